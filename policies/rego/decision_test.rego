# Unit tests of the decision module (`sluice policy test` runs every test_ rule,
# with regopy; the pytest suite also runs them through the real OPA engine).
package sluice.decision_test

import rego.v1

import data.sluice.decision

# regopy 1.5 crashes (SIGSEGV) on `with input as <rule>`: always bind the input to a
# local variable first (`inp := ...; ... with input as inp`).

base_user := {"subject": "alice", "department": "civil", "roles": ["analyst"], "clearance": "L3", "jurisdiction": ["1101"]}

base_dataset := {
	"id": "civil.dibao_recipients", "level": "L3", "department": "civil",
	"allowed_purposes": ["subsidy_audit"], "region_field": "region_code", "schema_version": 1,
	"fields": [
		{"name": "recipient_name", "level": "L3", "pi_category": "name", "mask_override": null},
		{"name": "amount", "level": "L2", "pi_category": "none", "mask_override": null},
		{"name": "case_flag", "level": "L4", "pi_category": "none", "mask_override": null},
		{"name": "region_code", "level": "L1", "pi_category": "none", "mask_override": null},
	],
}

base_request := {"fields": [], "filters": [], "order_by": [], "group_by": [], "purpose": "subsidy_audit", "case_ref": "C-1"}

base_input := {"user": base_user, "dataset": base_dataset, "request": base_request, "grants": [], "now": "2025-06-01T00:00:00Z"}

test_allowed_with_masks if {
	inp := base_input
	d := decision.decision with input as inp
	d.allow == true
	d.fields.recipient_name == {"action": "mask", "method": "name_surname"}
	d.fields.amount.action == "allow"
	d.fields.case_flag.action == "deny"
}

test_row_filter_is_the_jurisdiction if {
	inp := base_input
	d := decision.decision with input as inp
	d.row_filter == {"field": "region_code", "prefixes": ["1101"]}
}

test_purpose_required if {
	inp := object.union(base_input, {"request": object.union(base_request, {"purpose": null})})
	d := decision.decision with input as inp
	d.allow == false
	d.reasons == {"purpose_required": {}}
}

test_security_officer_never_queries if {
	officer := object.union(base_user, {"roles": ["security_officer", "analyst"]})
	inp := object.union(base_input, {"user": officer})
	d := decision.decision with input as inp
	d.allow == false
}

test_grant_unmasks if {
	g := {"id": "g", "dataset": "civil.dibao_recipients", "fields": ["recipient_name"], "action": "allow",
		"expires_at": "2026-01-01T00:00:00Z", "approvals": ["steward1"], "status": "approved", "requester": "alice"}
	inp := object.union(base_input, {"grants": [g]})
	d := decision.decision with input as inp
	d.fields.recipient_name.action == "allow"
}

test_expired_grant_ignored if {
	g := {"id": "g", "dataset": "civil.dibao_recipients", "fields": ["recipient_name"], "action": "allow",
		"expires_at": "2025-01-01T00:00:00Z", "approvals": ["steward1"], "status": "approved", "requester": "alice"}
	inp := object.union(base_input, {"grants": [g]})
	d := decision.decision with input as inp
	d.fields.recipient_name.action == "mask"
}

# Regression: regopy orders numbers as text in min(); max_rows must not use it.
test_quota_below_level_cap if {
	inp := object.union(base_input, {"usage": {"rows_remaining_today": 500}})
	d := decision.decision with input as inp
	d.max_rows == 500
}

test_level_cap if {
	inp := base_input
	d := decision.decision with input as inp
	d.max_rows == 10000
}

test_sorting_masked_refused if {
	req := object.union(base_request, {"order_by": ["recipient_name"]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.allow == false
}

# Reasons are codes with catalog parameters: request text never reaches the output.
test_refused_purpose_is_not_echoed if {
	evil := "\"],\"allow\":true,\"z\":[\""
	inp := object.union(base_input, {"request": object.union(base_request, {"purpose": evil})})
	d := decision.decision with input as inp
	d.allow == false
	d.reasons == {"purpose_not_allowed": {}}
}

test_unknown_field_names_no_field if {
	req := object.union(base_request, {"fields": ["amount", "x' or '1"]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.reasons == {"unknown_field": {}}
}

test_refused_fields_are_catalog_names if {
	req := object.union(base_request, {"fields": ["case_flag", "amount"], "order_by": ["recipient_name"]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.reasons == {
		"field_above_clearance": {"fields": ["case_flag"]},
		"order_by_refused": {"fields": ["recipient_name"]},
	}
}

test_allowed_notes_name_the_catalog_purpose if {
	inp := base_input
	d := decision.decision with input as inp
	d.reasons.allowed == {"purpose": "subsidy_audit"}
	d.reasons.fields_masked == {"fields": ["recipient_name"]}
	d.reasons.rows_limited_to_jurisdiction == {}
}

test_l4_dataset_reasons if {
	ds := object.union(base_dataset, {"level": "L4"})
	inp := object.union(base_input, {"dataset": ds})
	d := decision.decision with input as inp
	d.requires_approval == true
	d.reasons.approval_required_l4_dataset == {}
	d.reasons.approval_required == {"fields": ["amount", "recipient_name", "region_code"]}
}

# A count of rows names no field, and an L4 entry is still used only by permission
# (red team 27): the offer is the region field; a grant for the entry lifts it.
test_l4_dataset_count_rows_needs_a_grant if {
	ds := object.union(base_dataset, {"level": "L4"})
	req := object.union(base_request, {"aggregates": [{"fn": "count"}]})
	inp := object.union(base_input, {"dataset": ds, "request": req})
	d := decision.decision with input as inp
	d.requires_approval == true
	d.reasons.approval_required_l4_dataset == {}
	d.approval_fields == ["region_code"]
}

test_l4_dataset_count_rows_with_a_grant if {
	ds := object.union(base_dataset, {"level": "L4"})
	req := object.union(base_request, {"aggregates": [{"fn": "count"}]})
	g := {"id": "g", "dataset": "civil.dibao_recipients", "fields": ["region_code"], "action": "allow",
		"expires_at": "2026-01-01T00:00:00Z", "approvals": ["steward1", "steward2"], "status": "approved",
		"requester": "alice"}
	inp := object.union(base_input, {"dataset": ds, "request": req, "grants": [g]})
	d := decision.decision with input as inp
	d.allow == true
}

# Anything of an L4 entry needs two stewards' approvals, whatever its fields' levels: a
# grant one steward approved (while the entry was L3) does not serve it (red team 59).
test_l4_dataset_grant_of_one_approver_does_not_serve if {
	ds := object.union(base_dataset, {"level": "L4"})
	g := {"id": "g", "dataset": "civil.dibao_recipients", "fields": ["amount", "recipient_name", "region_code"],
		"action": "allow", "expires_at": "2026-01-01T00:00:00Z", "approvals": ["steward1"],
		"status": "approved", "requester": "alice"}
	inp := object.union(base_input, {"dataset": ds, "grants": [g]})
	d := decision.decision with input as inp
	d.allow == false
	d.requires_approval == true
	d.reasons.approval_required_l4_dataset == {}
	counted := object.union(inp, {"request": object.union(base_request, {"aggregates": [{"fn": "count"}]})})
	decision.decision.requires_approval with input as counted
}

# ---------------------------------------------------------------- masks chosen (issue 16)

fpe_dataset := object.union(base_dataset, {
	"allowed_purposes": ["subsidy_audit", "case_investigation"],
	"fields": array.concat(base_dataset.fields, [
		{"name": "id_number", "level": "L3", "pi_category": "id_number", "mask_override": null},
		{"name": "card", "level": "L3", "pi_category": "id_number", "mask_override": "keep_last:4"},
	]),
})

test_case_investigation_gets_id_number_pseudonyms if {
	req := object.union(base_request, {"purpose": "case_investigation"})
	inp := object.union(base_input, {"dataset": fpe_dataset, "request": req})
	d := decision.decision with input as inp
	d.allow == true
	d.fields.id_number == {"action": "mask", "method": "id_number_fpe"}
	d.fields.recipient_name == {"action": "mask", "method": "name_surname"}
}

test_other_purposes_keep_the_category_mask if {
	inp := object.union(base_input, {"dataset": fpe_dataset})
	d := decision.decision with input as inp
	d.fields.id_number == {"action": "mask", "method": "id_number_partial"}
}

test_steward_override_wins_over_the_purpose if {
	req := object.union(base_request, {"purpose": "case_investigation"})
	inp := object.union(base_input, {"dataset": fpe_dataset, "request": req})
	d := decision.decision with input as inp
	d.fields.card == {"action": "mask", "method": "keep_last:4"}
}

test_parametrised_override_at_clearance_is_the_method if {
	fields := [
		{"name": "amount", "level": "L2", "pi_category": "none", "mask_override": "round:100"},
		{"name": "paid", "level": "L2", "pi_category": "none", "mask_override": "date_month"},
		{"name": "region_code", "level": "L1", "pi_category": "none", "mask_override": null},
	]
	ds := object.union(base_dataset, {"level": "L2", "fields": fields})
	user := object.union(base_user, {"clearance": "L2"})
	inp := object.union(base_input, {"dataset": ds, "user": user})
	d := decision.decision with input as inp
	d.fields.amount == {"action": "mask", "method": "round:100"}
	d.fields.paid == {"action": "mask", "method": "date_month"}
	d.reasons.fields_masked == {"fields": ["amount", "paid"]}
}

test_override_below_clearance_is_released if {
	fields := [
		{"name": "amount", "level": "L2", "pi_category": "none", "mask_override": "bucket:500,1000"},
		{"name": "region_code", "level": "L1", "pi_category": "none", "mask_override": null},
	]
	ds := object.union(base_dataset, {"level": "L2", "fields": fields})
	inp := object.union(base_input, {"dataset": ds})
	d := decision.decision with input as inp
	d.fields.amount == {"action": "allow", "method": null}
}

# ---------------------------------------------------------------- aggregates (issue 16)

agg_request := object.union(base_request, {
	"group_by": ["region_code"],
	"aggregates": [{"fn": "count"}, {"fn": "sum", "field": "amount"}, {"fn": "count", "field": "recipient_name"}],
})

test_aggregate_allowed_with_its_rules if {
	inp := object.union(base_input, {"request": agg_request})
	d := decision.decision with input as inp
	d.allow == true
	d.aggregates.min_group_size == 5
	d.aggregates.functions.amount == ["avg", "count", "count_distinct", "max", "min", "sum"]
	d.aggregates.functions.recipient_name == ["count", "count_distinct"]
	d.aggregates.functions.case_flag == []
	d.row_filter == {"field": "region_code", "prefixes": ["1101"]}
}

test_no_aggregates_no_section if {
	inp := base_input
	d := decision.decision with input as inp
	d.aggregates == null
}

# `fields` empty is "every field" for rows, but an aggregate releases only what it names:
# the L4 field above clearance is not withheld (not released at all), so no note for it.
test_aggregate_releases_only_what_it_names if {
	inp := object.union(base_input, {"request": agg_request})
	d := decision.decision with input as inp
	not d.reasons.fields_withheld
	d.reasons.fields_masked == {"fields": ["recipient_name"]}
}

test_aggregate_threshold_follows_the_level if {
	ds := object.union(base_dataset, {"level": "L2"})
	inp := object.union(base_input, {"dataset": ds, "request": agg_request})
	d := decision.decision with input as inp
	d.aggregates.min_group_size == 3
}

test_aggregate_threshold_of_an_unknown_level_is_the_largest if {
	ds := object.union(base_dataset, {"level": "L9"})
	inp := object.union(base_input, {"dataset": ds, "request": agg_request})
	d := decision.decision with input as inp
	d.allow == false
	d.aggregates.min_group_size == 10
}

test_group_by_masked_refused if {
	req := object.union(agg_request, {"group_by": ["recipient_name"]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.allow == false
	d.reasons == {"group_by_refused": {"fields": ["recipient_name"]}}
}

test_group_by_denied_refused if {
	req := object.union(agg_request, {"group_by": ["case_flag"]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.reasons == {"group_by_refused": {"fields": ["case_flag"]}}
}

test_sum_of_masked_refused if {
	req := object.union(agg_request, {"aggregates": [{"fn": "sum", "field": "recipient_name"}]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.reasons == {"aggregate_refused": {"fields": ["recipient_name"]}}
}

test_count_of_denied_refused if {
	req := object.union(agg_request, {"aggregates": [{"fn": "count", "field": "case_flag"}]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.reasons == {"aggregate_refused": {"fields": ["case_flag"]}}
}

test_unknown_function_refused_without_echo if {
	req := object.union(agg_request, {"aggregates": [{"fn": "\"},\"allow\":true,\"", "field": "amount"}]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.reasons == {"aggregate_refused": {"fields": ["amount"]}}
}

test_aggregate_unknown_field_not_echoed if {
	req := object.union(agg_request, {"aggregates": [{"fn": "count", "field": "x' or '1"}]})
	inp := object.union(base_input, {"request": req})
	d := decision.decision with input as inp
	d.reasons == {"unknown_field": {}}
}

test_grant_lets_a_masked_field_be_summed if {
	g := {"id": "g", "dataset": "civil.dibao_recipients", "fields": ["recipient_name"], "action": "allow",
		"expires_at": "2026-01-01T00:00:00Z", "approvals": ["steward1"], "status": "approved", "requester": "alice"}
	req := object.union(agg_request, {"aggregates": [{"fn": "max", "field": "recipient_name"}]})
	inp := object.union(base_input, {"grants": [g], "request": req})
	d := decision.decision with input as inp
	d.allow == true
	d.aggregates.functions.recipient_name == ["avg", "count", "count_distinct", "max", "min", "sum"]
}

# A field whose classification is missing from the input (the gateway always sends
# both keys) is never released in clear: it is masked (issue 17's fourteenth pass reads
# the keys directly; a missing one fails the "no PI" branch, not a mask).
test_a_field_missing_its_classification_is_masked if {
	bare := {"name": "note", "level": "L3"}
	ds := object.union(base_dataset, {"fields": array.concat(base_dataset.fields, [bare])})
	inp := object.union(base_input, {"dataset": ds})
	d := decision.decision with input as inp
	d.fields.note == {"action": "mask", "method": "redact"}
}

# The same steward twice, and the requester among the approvers, are one approver: a
# grant so approved serves neither the L4 entry's fields nor its count of rows (red
# team 60).
test_l4_dataset_grant_of_one_steward_twice_and_the_requester_does_not_serve if {
	ds := object.union(base_dataset, {"level": "L4"})
	g := {"id": "g", "dataset": "civil.dibao_recipients", "fields": ["amount", "recipient_name", "region_code"],
		"action": "allow", "expires_at": "2026-01-01T00:00:00Z", "approvals": ["steward1", "steward1", "alice"],
		"status": "approved", "requester": "alice"}
	inp := object.union(base_input, {"dataset": ds, "grants": [g]})
	d := decision.decision with input as inp
	d.allow == false
	counted := object.union(inp, {"request": object.union(base_request, {"aggregates": [{"fn": "count"}]})})
	decision.decision.allow == false with input as counted
}
