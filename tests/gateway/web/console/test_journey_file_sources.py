"""Issue 14, the sources page's file kinds, in Debian's Chromium on an offline network:
carl registers a CSV file and a Parquet file under an allowed root (the form for each
kind), tests the connection, introspects, drafts, publishes; alice finds the entry in
the catalog and queries it — masked names, only her county, which for CSV needs the
region codes read as text (declared on the form: Arrow would read them as numbers)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Browser, Page, expect

from catalog.demo.identity import id_number
from catalog.models import Dataset
from tests.gateway.web.console.conftest import LiveConsole, browser_sign_in, offline

PEOPLE = [("张伟", "430121", "19560312", "13800138000"),
          ("李娜", "430121", "19680704", "13912345678"),
          ("刘洋", "430102", "19600229", "13700001111")]  # fmt: skip
LABELS = {"csv": "CSV 文件", "parquet": "Parquet 文件"}


def _roll(live: LiveConsole, kind: str) -> Path:
    table = pa.table({
        "xm": [p[0] for p in PEOPLE],
        "sfzh": [id_number(p[1], p[2], 30 + i) for i, p in enumerate(PEOPLE)],
        "phone": [p[3] for p in PEOPLE],
        "region_code": [p[1] for p in PEOPLE],
        "amount": [320.0, 330.0, 340.0],
    })  # fmt: skip
    root = live.gw.settings.demo_data_dir / f"files_{kind}"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"temporary_relief.{kind}"
    if kind == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def _register_and_publish(page: Page, live: LiveConsole, kind: str, path: Path) -> str:
    source, entry = f"civil-relief-{kind}", f"civil.relief_file_{kind}"
    page.get_by_role("link", name="数据源", exact=True).click()
    page.get_by_role("button", name=LABELS[kind], exact=True).click()
    page.get_by_label("数据源编号").fill(source)
    page.get_by_label("名称").fill(f"临时救助（{kind}）")
    page.get_by_label("文件路径").fill(str(path))
    if kind == "csv":
        page.get_by_label(re.compile("^列类型")).fill(
            "region_code: string, sfzh: string, phone: string"
        )
    page.get_by_role("button", name="测试连接").click()
    expect(page.locator("#tested")).to_contain_text("连接成功")
    page.get_by_role("button", name="测试并登记").click()
    page.wait_for_url(f"{live.base}/console/sources/{source}")
    page.get_by_role("button", name="读取表结构与分级建议").click()
    obj = page.locator("article.object", has_text=path.name)
    obj.get_by_label("条目编号").fill(entry)
    obj.get_by_label("中文标题").fill(f"临时救助发放{kind}")
    obj.get_by_label("允许的用途（逗号分隔）").fill("supervision")
    obj.get_by_role("button", name=re.compile("^建立草稿")).click()
    page.wait_for_url(f"{live.base}/console/sources/entries/{entry}")
    page.locator("#pi_category__xm").select_option("name")
    page.locator("#region_field").select_option("region_code")
    page.get_by_role("button", name="保存分级").click()
    expect(page.locator("#region_field option:checked")).to_have_text("region_code")
    page.get_by_role("button", name="发布").click()
    expect(page.locator("h1")).to_contain_text("已发布")
    return entry


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_carl_registers_a_file_and_alice_queries_it(live: LiveConsole, browser: Browser,
                                                    kind: str) -> None:  # fmt: skip
    path = _roll(live, kind)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = offline(page, live.base)
    try:
        browser_sign_in(page, live, "carl")
        entry = _register_and_publish(page, live, kind, path)
        page.get_by_role("button", name=re.compile("^退出")).click()
        browser_sign_in(page, live, "alice")
        page.get_by_role("link", name="数据目录", exact=True).click()
        page.get_by_label("搜索（中文或英文）").fill(f"临时救助发放{kind}")
        page.get_by_role("button", name="搜索").click()
        # the search swapped in and its URL pushed (htmx): a click before it landed on
        # the unfiltered list's link, which the swap then detached, and nothing navigated
        expect(page).to_have_url(re.compile(r"[?&]q="))
        page.locator(f"#results a[href='/console/query/{entry}']").click()
        page.wait_for_url(f"{live.base}/console/query/{entry}")
        page.get_by_label("案件编号").fill("JW-2026-FILE")
        page.get_by_role("button", name="预览").click()
        expect(page.locator("#results table.rows tbody tr")).to_have_count(2)  # her county
        body = page.locator("#results table.rows tbody")
        expect(body).to_contain_text("张*")
        expect(body).not_to_contain_text("张伟")
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    with live.gw.services.sessions() as session:
        found = session.get(Dataset, entry)
        assert found is not None and found.status == "published"
        assert next(f for f in found.fields if f.name == "region_code").type == "string"


def test_the_csv_forms_column_types_become_the_apis_settings() -> None:
    from catalog.errors import BadRequest
    from gateway.web.console.forms import Form
    from gateway.web.console.pages.sources import settings_of

    def form(**values: str) -> Form:
        return Form(list(values.items()))

    typed = settings_of(
        "csv", form(path="/srv/a.csv", column_types="region_code: string，sfzh：string")
    )
    assert typed == {"path": "/srv/a.csv",
                     "column_types": {"region_code": "string", "sfzh": "string"}}  # fmt: skip
    assert settings_of("parquet", form(path="/srv/a.parquet", column_types="x: string")) == {
        "path": "/srv/a.parquet"
    }  # Parquet files carry their types
    for bad in ("region_code", "region_code:", ": string"):
        with pytest.raises(BadRequest):
            settings_of("csv", form(path="/srv/a.csv", column_types=bad))
