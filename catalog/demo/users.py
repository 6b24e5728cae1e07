"""The six demo users, one per role situation the demo walks through.

``jurisdiction`` holds region-code prefixes; ``[""]`` (the empty prefix) means every
region. Roles here seed casbin's assignments; the attributes feed the policies.
"""

from __future__ import annotations

from typing import Any

DEMO_USERS: tuple[dict[str, Any], ...] = (
    {
        "subject": "alice",
        "display_name": "Alice 李爱丽 (analyst, 长沙县)",
        "department": None,
        "clearance": "L3",
        "jurisdiction": ["430121"],
        "roles": ["analyst"],
    },
    {
        "subject": "arthur",
        "display_name": "Arthur 王亚瑟 (analyst, all regions, internal only)",
        "department": None,
        "clearance": "L2",
        "jurisdiction": [""],
        "roles": ["analyst"],
    },
    {
        "subject": "dora",
        "display_name": "Dora 邓朵拉 (analyst, 市纪委监委, all regions)",
        "department": None,
        "clearance": "L3",
        "jurisdiction": [""],
        "roles": ["analyst"],
    },
    {
        "subject": "fiona",
        "display_name": "Fiona 赵菲 (steward, 财政局)",
        "department": "finance",
        "clearance": "L3",
        "jurisdiction": [""],
        "roles": ["steward"],
    },
    {
        "subject": "carl",
        "display_name": "Carl 陈卡尔 (steward, 民政局)",
        "department": "civil",
        "clearance": "L3",
        "jurisdiction": [""],
        "roles": ["steward"],
    },
    {
        "subject": "sam",
        "display_name": "Sam 孙山 (security officer)",
        "department": None,
        "clearance": "L2",
        "jurisdiction": [],
        "roles": ["security_officer"],
    },
    {
        "subject": "root",
        "display_name": "Root (administrator)",
        "department": None,
        "clearance": "L1",
        "jurisdiction": [],
        "roles": ["admin"],
    },
)
