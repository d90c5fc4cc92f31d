#!/usr/bin/env python3
"""Writes docs/scenarios.md: every scenario the suites run, named after its test or its row of
a table-driven test, with the file it is in and whether it runs on both stores; abnormal ones
(bad input, abuse, faults, races, crashes, refusals) are counted apart from the normal flows
listed in NORMAL.

A table row is a scenario when it begins with its name: a string literal starting with a
letter and holding a space, e.g. `("refund of zero fen", json!(...), 400, ...)`.
Rows with the same name in one test count once. Run after adding tests:
python3 scripts/scenarios.py"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = sorted(list((ROOT / "tests" / "tests").glob("*.rs")) + list((ROOT / "shared").glob("*/tests/*.rs"))
               + list((ROOT / "shared").glob("*/src/**/*.rs")))

# Scenarios of normal operation (happy paths, documents that agree, protocol vectors). Every
# other named test or row is an abnormal scenario.
NORMAL = {
    "defaults_apply", "finds_each_term_once", "clean_text_passes", "list_loads_without_comments",
    "every_traditional_form_of_the_list_is_mapped", "safety_stock_follows_the_seed",
    "bundle_availability_is_its_scarcest_component", "prices_by_kind", "business_day_turns_at_shanghai_midnight",
    "kinds", "ids_name_the_change", "ids_read_as_str_and_round_trip", "displays_as_yuan",
    "roles_are_ordered_by_what_they_may_do", "one_warehouse_when_one_holds_everything",
    "split_over_the_fewest_warehouses", "shards_are_used_fullest_first", "order_numbers_fit_wechat",
    "prices_allocates_and_brings_gifts", "masks", "every_code_has_a_status_and_a_distinct_name", "body_shape",
    "query_decoding", "stock_keys_round_trip", "decimals_are_exact", "generated_keys_reload_from_pem",
    "authorization_header_round_trip", "pay_sign_is_over_the_four_lines", "nonces_look_like_the_sdks",
    "bill_parses_wechat_sample_rows", "go_sdk_signature_vector_pkcs8_and_pkcs1",
    "go_sdk_notify_vector_verifies_within_its_window", "java_sdk_aead_vector", "java_sdk_certificate_download_vector",
    "v2_documented_example", "operator_builds_and_shopper_browses", "only_products_on_sale_are_shown",
    "list_filters_and_pages", "safety_stock_list_follows_the_rule", "sample_catalog_loads",
    "new_customer_coupons_are_for_three_days", "thresholds_templates_and_redemption_rate",
    "login_creates_then_finds_the_user", "cloud_hosting_identity_header_is_trusted_when_configured",
    "phone_number_is_verified_and_masked", "place_pay_and_notify", "orders_split_by_warehouse_and_bundles_take_components",
    "operators_search_and_ship", "cart_shows_current_prices_and_availability",
    "shopper_refund_approved_returns_stock_and_coupon", "settings_come_from_the_secrets_a_function_is_given",
    "round_trip_keeps_every_value", "update_creates_and_counts_from_zero", "transaction_applies_all",
    "query_pages_in_sort_order", "secondary_index_query", "the_shop_makes_its_table_on_dynamodb_local",
    "every_documented_route_exists", "template_table_matches_the_store",
    "the_api_is_throttled_and_the_notify_keeps_its_capacity", "every_function_binary_is_deployed",
    "every_documented_route_is_routed_to_a_function_that_serves_it", "each_function_reads_only_the_secrets_it_uses",
    "scheduled_functions_take_schedules_and_their_routes", "lambda_events_reach_the_handlers",
    "prepay_pay_notify_query_close_refund_bill", "certificate_mode_downloads_and_rotates_certificates",
    "gifts_come_while_stock_lasts", "round_trip_and_expiry", "ids_parse_at_the_edge",
    "refund_approvals_follow_the_thresholds", "conditions_compare_like_dynamodb",
    "an_order_goes_from_address_to_completed", "freight_is_charged_once_and_returned_in_full",
    "wechat_chosen_addresses_read_as_ours", "flat_free_over_and_remote", "masked_keeps_the_region_only",
    "upload_time_is_beijing_rfc3339_with_millis", "safety_stock_follows_sales", "the_best_tier_applies",
    "campaign_then_scoped_coupon", "promotions_price_together",
    "lambda_runs_the_real_functions", "scf_event_functions_run_the_real_functions", "gateway_events_become_requests",
    "timer_messages_name_what_the_job_does", "the_tencent_deployment_is_made_from_the_functions_routes_and_schedules",
    "timers_run_at_the_same_moments_in_beijing_time", "every_documented_operation_reaches_a_tencent_function_that_serves_it",
    "the_in_process_timetable_is_the_templates", "runs_fall_on_the_timetable",
    "the_cloud_hosting_image_serves_on_its_container_port", "the_sample_mini_program_orders_pays_and_asks_for_a_refund",
    # rows of the roles table that are allowed
    "viewer lists orders", "viewer reads the audit trail", "viewer lists refunds", "viewer lists operators",
    "operator edits the catalog", "operator runs jobs", "operator reads a report",
}

ROW = re.compile(r'(?<![A-Za-z0-9_!])\(\s*"([A-Za-z][^"\n{]*\s[^"\n{]*)",')
FN = re.compile(r"\s*(?:pub )?(?:async )?fn ([a-z0-9_]+)\(")


def scenarios(path):
    text = path.read_text(encoding="utf-8")
    both = set()
    for block in re.findall(r"on_both_stores!\((.*?)\);", text, re.S):
        both.update(n.strip() for n in block.split(",") if n.strip())
    in_tests = "tests" in path.parts[-2:] or "/tests/" in str(path)
    lines = text.split("\n")
    test_from = 0 if in_tests else next((i for i, l in enumerate(lines) if "#[cfg(test)]" in l), len(lines))
    tests, rows, seen = [], [], set()
    current = None
    for i, line in enumerate(lines):
        m = FN.match(line)
        if m:
            current = m.group(1)
            attrs = "\n".join(lines[max(0, i - 3):i])
            if "#[test]" in attrs or "#[tokio::test" in attrs or current in both:
                doc = []
                j = i - 1
                while j >= 0 and (lines[j].strip().startswith("#[") or lines[j].strip().startswith("///")):
                    if lines[j].strip().startswith("///"):
                        doc.insert(0, lines[j].strip()[3:].strip())
                    j -= 1
                summary = " ".join(doc).split(". ")[0].rstrip(".") if doc else current.replace("_", " ")
                tests.append((current, summary, current in both))
    # Rows: matched over the text so a row split over lines by rustfmt is found too.
    offsets = [0]
    for l in lines:
        offsets.append(offsets[-1] + len(l) + 1)
    fn_at = []
    for i, l in enumerate(lines):
        m = FN.match(l)
        if m:
            fn_at.append((offsets[i], m.group(1)))
    test_offset = offsets[test_from] if test_from < len(lines) else len(text)
    for m in ROW.finditer(text):
        if m.start() < test_offset:
            continue
        owner = None
        for off, name in fn_at:
            if off <= m.start():
                owner = name
        if owner is None or (owner, m.group(1)) in seen:
            continue
        seen.add((owner, m.group(1)))
        # A row belongs to the test that runs it, or to the helper that builds a test's table
        # (which runs on both stores when that file's tests do).
        is_test = any(t == owner for t, _, _ in tests)
        rows.append((owner, m.group(1), owner in both if is_test else bool(both)))
    return tests, rows


entries = []
for f in FILES:
    tests, rows = scenarios(f)
    rel = str(f.relative_to(ROOT))
    for name, summary, both in tests:
        entries.append((rel, f"`{name}`", summary, both, name not in NORMAL))
    for owner, row, both in rows:
        entries.append((rel, f"`{owner}`: {row}", row, both, row not in NORMAL))

abnormal = [e for e in entries if e[4]]
normal = [e for e in entries if not e[4]]
runs = sum(2 if e[3] else 1 for e in entries)
md = ["# Scenarios the suites run", "",
      f"**{len(abnormal)} abnormal scenarios** (bad input, abuse, faults, races, crashes, refusals) and "
      f"{len(normal)} of normal operation: {len(entries)} in all, {runs} runs (those marked ×2 run on the "
      "embedded store and on DynamoDB Local). A scenario is a named test, or a named row of a "
      "table-driven test (`test`: row). Generated by `python3 scripts/scenarios.py`.", "",
      "## Abnormal", "", "| # | scenario | what it holds | stores | file |", "|---|---|---|---|---|"]
for n, (f, name, summary, both, _) in enumerate(abnormal, 1):
    md.append(f"| {n} | {name} | {summary.replace('|', '/')} | {'×2' if both else '–'} | `{f}` |")
md += ["", "## Normal operation", "", "| scenario | what it holds | stores | file |", "|---|---|---|---|"]
for f, name, summary, both, _ in normal:
    md.append(f"| {name} | {summary.replace('|', '/')} | {'×2' if both else '–'} | `{f}` |")
(ROOT / "docs" / "scenarios.md").write_text("\n".join(md) + "\n", encoding="utf-8")
print(f"docs/scenarios.md: {len(abnormal)} abnormal scenarios, {len(normal)} normal, {runs} runs")
