# Sluice data policy: what one request may see of one catalog entry.
#
# Input (built by policies.inputs): user, dataset, request, grants, now, usage.
# Output: data.sluice.decision.decision, one object covering every field of the entry.
# Every string in the output is a fixed code, a mask method, or a catalog value passed
# through unchanged (field names, allowed purposes, jurisdiction prefixes): never text
# of the request, and never a string built by a builtin (rego-cpp reports those with
# mixed escaping; policies/decision.py refuses any string outside those closed sets).
#
# Written for BOTH engines: regopy (rego-cpp) in process and a real OPA server.
# Keep to builtins both implement; time.parse_rfc3339_ns is NOT usable in regopy,
# so timestamps arrive normalised (UTC, "YYYY-MM-DDTHH:MM:SSZ") and compare as
# strings. `input.now` is used ONLY to compare with grant expiry: the decision cache
# relies on that (it keys on grant validity instead of the clock).
package sluice.decision

import rego.v1

level_rank := {"L1": 1, "L2": 2, "L3": 3, "L4": 4}

default_max_rows_by_level := {"L1": 100000, "L2": 100000, "L3": 10000, "L4": 1000}

# An administrator may change the caps per level (SLUICE_MAX_ROWS_BY_LEVEL), sent as
# input.limits.max_rows_by_level; levels not named keep the defaults above.
max_rows_by_level := object.union(
	default_max_rows_by_level,
	object.get(object.get(input, "limits", {}), "max_rows_by_level", {}),
)

# Mirrors catalog.classification.DEFAULT_MASK (a Python test keeps them equal).
default_mask := {
	"id_number": "id_number_partial",
	"phone": "phone_partial",
	"name": "name_surname",
	"bank_card": "bank_card_last4",
	"address": "address_district",
	"birth_date": "birth_date_year",
	"uscc": "hash",
	"free_text": "redact",
}

# Masks chosen by the request's purpose, per PI category, in place of the category's
# default. Under case_investigation ID numbers are FF3-1 pseudonyms keyed by the case
# (id_number_fpe): they still join within the case and an approved re-identification
# (issue 15) can reverse them, which a partial mask cannot. A steward's mask_override
# still wins (the department's own instruction for its field). The level decides
# whether a field is masked at all (rules 3-6); this table and the override, which mask.
purpose_mask := {"case_investigation": {"id_number": "id_number_fpe"}}

# ---------------------------------------------------------------- the parties

user := input.user

dataset := input.dataset

req := object.get(input, "request", {})

roles := {r | some r in object.get(user, "roles", [])}

clearance := object.get(level_rank, object.get(user, "clearance", ""), 0)

dataset_rank := object.get(level_rank, object.get(dataset, "level", ""), 5)

fields_by_name := {f.name: f | some f in dataset.fields}

requested_names := {n | some n in object.get(req, "fields", [])}

req_filters := object.get(req, "filters", [])

req_order_by := object.get(req, "order_by", [])

req_group_by := object.get(req, "group_by", [])

unmask_names := {n | some n in object.get(req, "unmask", [])}

# [{fn, field}] (no field: rows per group); the caller's aliases never reach policy
req_aggregates := object.get(req, "aggregates", [])

aggregate_query if count(req_aggregates) > 0

# An aggregate query (issue 16) releases what it groups on and what it aggregates, and
# never a row: its `fields` are empty (the gateway refuses them), which must not mean
# "every field" here.
released_names contains n if {
	not aggregate_query
	count(requested_names) == 0
	some n, _ in fields_by_name
}

released_names contains n if {
	not aggregate_query
	some n in requested_names
	fields_by_name[n]
}

released_names contains n if {
	aggregate_query
	some n in req_group_by
	fields_by_name[n]
}

released_names contains n if {
	aggregate_query
	some a in req_aggregates
	n := a.field
	fields_by_name[n]
}

# ---------------------------------------------------------------- grants

now := object.get(input, "now", "")

# An approval by the requester (or by the user asking now) never counts.
approvers(g) := {a |
	some a in object.get(g, "approvals", [])
	a != object.get(g, "requester", "")
	a != user.subject
}

effective_grants contains i if {
	some i, g in object.get(input, "grants", [])
	g.status == "approved"
	g.dataset == dataset.id
	g.action == "allow"
	object.get(g, "requester", user.subject) == user.subject
	is_string(g.expires_at)
	is_string(now)
	now != ""
	g.expires_at > now
}

covered(name, needed) if {
	some i in effective_grants
	g := input.grants[i]
	name in g.fields
	count(approvers(g)) >= needed
}

# Releasing an unmasked L4 field needs two approvals by two different stewards.
unmask_approvals(f) := 2 if {
	f.level == "L4"
} else := 1

# ---------------------------------------------------------------- fields

field_decisions := {name: field_decision(f, object.get(level_rank, object.get(f, "level", ""), 5)) |
	some name, f in fields_by_name
}

# One field's action and mask method: the branches of one chain, tried in order, with
# no helper function called per field (rego-cpp pays several microseconds for each
# function call, and the per-field helpers — rank, sensitivity, grants, method — were
# most of a cold embedded decision: issue 17, thirteenth pass). `rank` is the field's
# level as a number; an unknown level ranks above every clearance (5), so it is denied.
# Order matters: clearance first, grants can never lift a field above clearance. A
# field is sensitive when it has a PI category or a steward's mask override; a
# sensitive field is released in clear below the clearance and at most L2, or by an
# approved grant that names it. A masked field's method (no object.get default here:
# regopy returns a builtin's string result wrapped in quotes ("\"redact\""); a lookup
# in the literal table, or the literal, is read as is): the steward's mask_override,
# which may carry parameters ("round:100", "keep_last:4") and is passed through as the
# catalog stored it (validated on save, and again by policies/schema.py); else the
# purpose's mask for the category; else the category's default; else redact.
field_decision(f, rank) := {"action": "deny", "method": null} if {
	rank > clearance
} else := {"action": "allow", "method": null} if {
	f.pi_category == "none"
	f.mask_override == null
} else := {"action": "allow", "method": null} if {
	rank < clearance
	rank <= 2
} else := {"action": "allow", "method": null} if {
	some i in effective_grants
	g := input.grants[i]
	f.name in g.fields
	count(approvers(g)) >= unmask_approvals(f)
} else := {"action": "mask", "method": f.mask_override} if {
	is_string(f.mask_override)
} else := {"action": "mask", "method": purpose_mask[req.purpose][f.pi_category]} if {
	purpose_mask[req.purpose][f.pi_category]
} else := {"action": "mask", "method": default_mask[f.pi_category]} if {
	default_mask[f.pi_category]
} else := {"action": "mask", "method": "redact"}

# ---------------------------------------------------------------- refusals

# Reasons are codes with parameters, never sentences built from request text: the
# gateway renders them (policies/reasons.py). A parameter only ever names catalog
# values (field names of the entry, its allowed purposes); the request's own strings
# (purpose, case reference, unknown names) never appear in the output.

purpose_missing if not is_string(object.get(req, "purpose", null))

purpose_missing if req.purpose == ""

errors["purpose_required"] := {} if purpose_missing

errors["purpose_not_allowed"] := {} if {
	not purpose_missing
	not req.purpose in object.get(dataset, "allowed_purposes", [])
}

errors["case_ref_required"] := {} if {
	dataset_rank >= 3
	not has_case_ref
}

has_case_ref if {
	is_string(req.case_ref)
	req.case_ref != ""
}

errors["security_officer_never_queries"] := {} if "security_officer" in roles

errors["analysts_only"] := {} if not "analyst" in roles

errors["unknown_dataset_level"] := {} if dataset_rank > 4

errors["unknown_field"] := {} if {
	some n in referenced_names
	not fields_by_name[n]
}

referenced_names contains n if some n in requested_names

referenced_names contains f.field if some f in req_filters

referenced_names contains n if some n in req_order_by

referenced_names contains n if some n in req_group_by

referenced_names contains n if {
	some a in req_aggregates
	n := a.field
	is_string(n)
}

# Names of the entry's fields only: `n` is a key of fields_by_name (catalog text).
above_clearance contains n if {
	some n in requested_names
	field_decisions[n].action == "deny"
}

errors["field_above_clearance"] := {"fields": sort(above_clearance)} if count(above_clearance) > 0

filtered_denied contains n if {
	some flt in req_filters
	n := flt.field
	field_decisions[n].action == "deny"
}

errors["filter_on_denied_field"] := {"fields": sort(filtered_denied)} if count(filtered_denied) > 0

filtered_masked contains n if {
	some flt in req_filters
	n := flt.field
	field_decisions[n].action == "mask"
	not token_equality(flt)
}

errors["filter_on_masked_field"] := {"fields": sort(filtered_masked)} if count(filtered_masked) > 0

token_equality(flt) if {
	flt.op == "="
	flt.value_is_hash_token == true
}

sorted_hidden contains n if {
	some n in req_order_by
	field_decisions[n].action != "allow"
}

errors["order_by_refused"] := {"fields": sort(sorted_hidden)} if count(sorted_hidden) > 0

grouped_hidden contains n if {
	some n in req_group_by
	field_decisions[n].action != "allow"
}

errors["group_by_refused"] := {"fields": sort(grouped_hidden)} if count(grouped_hidden) > 0

# An aggregate over a field with a function its action does not allow (see `aggregates`).
aggregated_refused contains n if {
	some a in req_aggregates
	n := a.field
	field_decisions[n]
	not a.fn in aggregate_functions[n]
}

errors["aggregate_refused"] := {"fields": sort(aggregated_refused)} if count(aggregated_refused) > 0

errors["quota_exhausted"] := {} if rows_remaining <= 0

# A user limited to some regions may not read an entry that has no region field to limit
# rows by: without it there is no row filter, and every region's rows would be released
# (a steward removing the region field must not lift analysts' jurisdiction). Public
# (L1) entries are not bound to a jurisdiction.
errors["no_region_field"] := {} if {
	dataset_rank > 1
	not is_string(object.get(dataset, "region_field", null))
	not all_regions
}

all_regions if "" in object.get(user, "jurisdiction", [])

errors["nothing_visible"] := {} if {
	not aggregate_query
	count({n | some n in released_names; field_decisions[n].action != "deny"}) == 0
}

# An aggregate may name no field at all (rows per group, no grouping): it still needs
# some field of the entry visible to the user.
errors["nothing_visible"] := {} if {
	aggregate_query
	count(visible_fields) == 0
}

visible_fields contains n if {
	some n, d in field_decisions
	d.action != "deny"
}

rows_remaining := object.get(object.get(input, "usage", {}), "rows_remaining_today", 1000000000)

# ---------------------------------------------------------------- approvals

# What a request reads: what it returns, and every field it filters, sorts or groups
# on — a filter or an order reads a field's values as surely as returning it does
# (`between` halved until one row is left gives each row's value: red team 27).
used_names contains n if some n in released_names

used_names contains n if {
	some n in referenced_names
	fields_by_name[n]
}

# What this request would read, field by field, without an approved grant. Anything of
# an L4 entry is released with two stewards' approvals, whatever its fields' levels, as
# an access request for it asks (grants.service.required_approvals): a grant approved by
# one steward while the entry was L3 served it once raised to L4 (red team 59).
pending contains n if {
	dataset_rank == 4
	some n in used_names
	field_decisions[n].action != "deny"
	not covered(n, 2)
}

pending contains n if {
	some n in used_names
	f := fields_by_name[n]
	f.level == "L4"
	field_decisions[n].action == "allow"
	not covered(n, 2)
}

# An L4 entry is used only by permission (red team 27): a query that uses none of its
# fields — a count of rows, no grouping — still reads the entry, and without an approved
# grant for it the fields to ask for are what a count of rows reads: the region field,
# which the jurisdiction's row filter reads (when it is visible), else what an unnamed
# read would release (every visible field).
pending contains n if {
	dataset_rank == 4
	not entry_granted
	count(used_visible) == 0
	some n in entry_use_names
}

used_visible contains n if {
	some n in used_names
	field_decisions[n].action != "deny"
}

# An approved, effective grant of this requester for this (L4) entry, approved by two
# stewards other than the requester (any of its fields: what it covers is asked field by
# field).
entry_granted if {
	some i in effective_grants
	count(approvers(input.grants[i])) >= 2
}

visible_region_field contains r if {
	r := object.get(dataset, "region_field", null)
	is_string(r)
	field_decisions[r].action != "deny"
}

entry_use_names contains n if some n in visible_region_field

entry_use_names contains n if {
	count(visible_region_field) == 0
	some n in visible_fields
}

pending contains n if {
	some n in unmask_names
	n in released_names
	field_decisions[n].action == "mask"
}

approval_reasons["approval_required_l4_dataset"] := {} if {
	dataset_rank == 4
	count(pending) > 0
}

approval_reasons["approval_required"] := {"fields": sort(pending)} if count(pending) > 0

# ---------------------------------------------------------------- aggregates (issue 16)

# Which functions an aggregate may compute over a field, by the field's action: a field
# released in clear takes any; a masked field only counts (how many values, how many
# distinct ones) — a sum, an average or an extreme would carry the values the mask
# hides; a denied field none. `count` with no field (rows per group) names no field.
# Grouping is on fields released in clear only (`group_by_refused` above).
aggregate_fns_by_action := {
	"allow": ["avg", "count", "count_distinct", "max", "min", "sum"],
	"mask": ["count", "count_distinct"],
	"deny": [],
}

aggregate_functions := {name: fns |
	some name, d in field_decisions
	fns := aggregate_fns_by_action[d.action]
}

# Small-count suppression: every group with fewer rows than this is withheld (its
# cells null and flagged, never dropped). The entry's level decides; an unknown level
# takes the largest.
min_group_size_by_level := {"L1": 1, "L2": 3, "L3": 5, "L4": 10}

min_group_size := object.get(min_group_size_by_level, object.get(dataset, "level", ""), 10)

# Only an aggregate query gets the section (null otherwise: nothing to compute).
aggregates := {"min_group_size": min_group_size, "functions": aggregate_functions} if {
	aggregate_query
} else := null

# ---------------------------------------------------------------- the decision

default allow := false

default requires_approval := false

default policy_version := "unversioned"

policy_version := data.sluice_meta.policy_version

allow if {
	count(errors) == 0
	count(pending) == 0
}

requires_approval if {
	count(errors) == 0
	count(pending) > 0
}

# The purpose named here is the catalog's own string (the one the request matched).
notes["allowed"] := {"purpose": p} if {
	allow
	some p in dataset.allowed_purposes
	p == req.purpose
}

masked_released contains n if {
	allow
	some n in released_names
	field_decisions[n].action == "mask"
}

notes["fields_masked"] := {"fields": sort(masked_released)} if count(masked_released) > 0

withheld_released contains n if {
	allow
	some n in released_names
	field_decisions[n].action == "deny"
}

notes["fields_withheld"] := {"fields": sort(withheld_released)} if count(withheld_released) > 0

notes["rows_limited_to_jurisdiction"] := {} if {
	allow
	row_filter != null
}

reasons := errors if {
	count(errors) > 0
} else := approval_reasons if {
	count(pending) > 0
} else := notes

row_filter := {"field": dataset.region_field, "prefixes": sort({p | some p in object.get(user, "jurisdiction", [])})} if {
	is_string(object.get(dataset, "region_field", null))
} else := null

# No min()/max()/sort() on numbers: regopy 1.5 orders numbers as text there
# (min([10000, 500]) == 10000). Plain comparisons are numeric in both engines.
level_cap := object.get(max_rows_by_level, object.get(dataset, "level", ""), 0)

max_rows := 0 if {
	rows_remaining <= 0
} else := rows_remaining if {
	rows_remaining < level_cap
} else := level_cap

decision := {
	"allow": allow,
	"reasons": reasons,
	"fields": field_decisions,
	"row_filter": row_filter,
	"max_rows": max_rows,
	"requires_approval": requires_approval,
	"approval_fields": sort(pending),
	"aggregates": aggregates,
	"policy_version": policy_version,
}
