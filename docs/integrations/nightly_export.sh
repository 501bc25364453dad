#!/usr/bin/env bash
# Nightly CSV export of yesterday's answers (docs/integrations/README.md, recipe 4), page by page.
#   REVISIT_URL=... REVISIT_API_KEY=nk_... ./nightly_export.sh downtown-coffee > feedback.csv
# crontab: 15 2 * * *  REVISIT_URL=... REVISIT_API_KEY=... /opt/revisit/nightly_export.sh downtown-coffee > /data/feedback-$(date +\%F).csv
set -euo pipefail
store="$1"
day="${2:-$(date -u -d yesterday +%F)}"
cursor=""
header_done=""
while :; do
  headers=$(mktemp)
  curl -sS --fail-with-body -D "$headers" -G "$REVISIT_URL/api/external/feedback/export" \
    -H "x-api-key: $REVISIT_API_KEY" \
    --data-urlencode "storeSlug=$store" --data-urlencode "from=$day" --data-urlencode "to=$day" \
    --data-urlencode "format=csv" ${cursor:+--data-urlencode "cursor=$cursor"} > page.csv
  if [ -z "$header_done" ]; then cat page.csv; header_done=1; else tail -n +2 page.csv; fi
  cursor=$(grep -i '^x-revisit-next-cursor:' "$headers" | cut -d' ' -f2- | tr -d '\r' || true)
  rm -f "$headers" page.csv
  [ -n "$cursor" ] || break
done
