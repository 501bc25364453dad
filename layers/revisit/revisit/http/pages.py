"""The survey page: small, accessible, mobile-first HTML with no external assets.

The page shows the store's name and a 1-5 star form; it never shows the token's payload. The
inline script and style are pinned by hash in the Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

_STYLE = """
*{box-sizing:border-box}body{margin:0;font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1d1d1f;background:#f5f5f7;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;width:100%;max-width:28rem;margin:1rem;padding:1.5rem;border-radius:1rem;
box-shadow:0 1px 4px rgba(0,0,0,.08)}h1{font-size:1.35rem;margin:0 0 .25rem}p{margin:.25rem 0 1rem;color:#444}
fieldset{border:0;padding:0;margin:0 0 1rem}legend{font-weight:600;margin-bottom:.5rem}
.stars{display:flex;flex-direction:row-reverse;justify-content:flex-end;gap:.25rem}
.stars input{position:absolute;opacity:0;width:1px;height:1px}
.stars label{font-size:2.4rem;line-height:1;color:#c7c7cc;cursor:pointer;padding:.1rem;border-radius:.4rem}
.stars input:checked~label,.stars label:hover,.stars label:hover~label{color:#f5a623}
.stars input:focus-visible+label{outline:3px solid #0a64d6;outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
label[for=comment]{display:block;font-weight:600;margin-bottom:.35rem}
textarea{width:100%;min-height:6rem;font:inherit;padding:.6rem;border:1px solid #c7c7cc;border-radius:.6rem}
button{margin-top:1rem;width:100%;font:inherit;font-weight:600;padding:.8rem;border:0;border-radius:.6rem;
background:#0a64d6;color:#fff;cursor:pointer}button[disabled]{opacity:.6}
#status{min-height:1.5rem;margin-top:.75rem}.error{color:#b00020}.opt{font-weight:400}
"""

_SCRIPT = """
const form=document.getElementById('survey');const status=document.getElementById('status');
form.addEventListener('submit',async(e)=>{e.preventDefault();
const rating=form.querySelector('input[name=rating]:checked');
if(!rating){status.className='error';status.textContent='Please choose a rating from 1 to 5 stars.';return;}
const button=form.querySelector('button');button.disabled=true;status.className='';status.textContent='Sending…';
try{const r=await fetch(form.action,{method:'POST',headers:{'Content-Type':'application/json'},
body:JSON.stringify({token:form.dataset.token,rating:Number(rating.value),
comment:form.comment.value.trim()||undefined})});
if(r.status===201){document.querySelector('main').innerHTML=
'<h1 tabindex="-1" id="thanks">Thank you!</h1><p>Your feedback has been received.</p>';
document.getElementById('thanks').focus();return;}
const data=await r.json().catch(()=>({}));status.className='error';
status.textContent=(data.error&&data.error.message)||'Something went wrong; please try again.';
if(r.status>=500){button.disabled=false;}}
catch(err){status.className='error';status.textContent='Network error; please try again.';button.disabled=false;}});
"""


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (
    f"default-src 'none'; style-src {_sha(_STYLE)}; script-src {_sha(_SCRIPT)}; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title><style>{_STYLE}</style></head>'
        f"<body><main>{body}</main></body></html>"
    )


def survey_form(store_name: str, token: str, submit_url: str) -> str:
    stars = "".join(
        f'<input type="radio" id="r{n}" name="rating" value="{n}" required>'
        f'<label for="r{n}"><span aria-hidden="true">★</span>'
        f'<span class="sr">{n} star{"s" if n > 1 else ""}</span></label>'
        for n in range(5, 0, -1)
    )
    body = (
        f"<h1>How was your visit to {escape(store_name)}?</h1><p>It takes ten seconds and helps us improve.</p>"
        f'<form id="survey" action="{escape(submit_url)}" method="post" data-token="{escape(token)}" novalidate>'
        f'<fieldset><legend>Your rating</legend><div class="stars">{stars}</div></fieldset>'
        '<label for="comment">Anything to add? <span class="opt">(optional)</span></label>'
        '<textarea id="comment" name="comment" maxlength="2000"></textarea>'
        '<button type="submit">Send feedback</button><div id="status" role="status" aria-live="polite"></div>'
        f"</form><script>{_SCRIPT}</script>"
    )
    return _page(f"Feedback for {store_name}", body)


def message(title: str, text: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")


def unsubscribe_form(action: str) -> str:
    """A confirmation step: link scanners that prefetch GET links must not unsubscribe anyone."""
    body = (
        "<h1>Stop survey messages?</h1><p>You will get no more feedback requests from this store.</p>"
        f'<form method="post" action="{escape(action)}"><button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", body)
