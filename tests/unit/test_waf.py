"""The optional WAF (issue 18 part 4): off by default, and when on: AWS's common and known-bad-
inputs rule groups and a per-IP rate limit on exactly the public routes; the local stack lists it
as configuration it does not emulate."""

from __future__ import annotations

from revisit_dev.template import load_template, parse_yaml


def _resources():
    from revisit_dev.template import TEMPLATE_PATH

    return parse_yaml(TEMPLATE_PATH.read_text())["Resources"]


def test_the_web_acl_is_behind_a_parameter_off_by_default():
    resources = _resources()
    assert resources["WebAcl"]["Condition"] == "Waf" and resources["WebAclAssociation"]["Condition"] == "Waf"
    assert not any("WebAcl" in s for s in load_template().not_emulated())
    on = load_template(parameters={"EnableWaf": "true"}).not_emulated()
    assert any(s.startswith("WebAcl ") for s in on) and any(s.startswith("WebAclAssociation ") for s in on)


def test_rules_cover_common_attacks_and_rate_limit_the_public_routes():
    rules = {r["Name"]: r for r in _resources()["WebAcl"]["Properties"]["Rules"]}
    groups = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in rules.values()
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert groups == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    common = rules["aws-common"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["RuleActionOverrides"][0]["Name"] == "SizeRestrictions_BODY"  # imports post > 8 KB
    rate = rules["public-routes-per-ip"]["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP"
    matched = {s["ByteMatchStatement"]["SearchString"] for s in rate["ScopeDownStatement"]["OrStatement"]["Statements"]}
    assert matched == {"/s/", "/r/", "/api/external/public/submit", "/nps/"}
