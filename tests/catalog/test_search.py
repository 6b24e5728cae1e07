"""Catalog search over the demo entries: Chinese and English text, filters, ranking."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from catalog import service
from catalog.db import make_engine, make_session_factory, migrate
from catalog.demo.install import install_demo_catalog
from catalog.errors import BadRequest
from tests.row_seals import register_test_seals


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """One migrated catalog with the demo entries for the module; the tests only read."""
    tmp_path = tmp_path_factory.mktemp("search")
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    migrate(url)
    register_test_seals(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        install_demo_catalog(session=s, data_dir=tmp_path / "demo")
        s.commit()
        yield s
    engine.dispose()


def ids(session: Session, **filters: str) -> list[str]:
    return [d.id for d in service.list_datasets(session=session, **filters)]  # type: ignore[arg-type]


def test_chinese_query_finds_the_dibao_entry(session: Session) -> None:
    assert ids(session, q="低保")[0] == "civil.dibao_recipients"
    assert ids(session, q="最低生活保障") == ["civil.dibao_recipients"]
    assert ids(session, q="身份证号")  # field descriptions are searched too


def test_english_query_is_case_insensitive(session: Session) -> None:
    assert ids(session, q="subsistence") == ["civil.dibao_recipients"]
    assert ids(session, q="SUBSISTENCE") == ["civil.dibao_recipients"]
    assert ids(session, q="ｄｉｂａｏ") == ["civil.dibao_recipients"]  # full-width letters


def test_field_names_are_searched(session: Session) -> None:
    assert ids(session, q="bank_card") == ["finance.payroll"]
    assert ids(session, q="payee_uscc") == ["finance.fund_disbursements"]


def test_every_term_must_match_and_titles_rank_first(session: Session) -> None:
    assert ids(session, q="低保 phone") == ["civil.dibao_recipients"]
    assert ids(session, q="低保 payroll") == []
    assert ids(session, q="no-such-thing") == []
    # "death" is in the death register's title, only in nothing else's
    assert ids(session, q="death")[0] == "civil.death_registrations"


def test_filters_by_department_level_and_tag(session: Session) -> None:
    assert ids(session, department="civil") == [
        "civil.death_registrations",
        "civil.dibao_recipients",
    ]
    assert ids(session, level="L2") == ["audit.audit_findings", "finance.fund_disbursements"]
    assert ids(session, level="l3", department="finance") == ["finance.payroll"]
    assert ids(session, tag="低保") == ["civil.dibao_recipients"]
    assert ids(session, tag="Welfare") == ["civil.dibao_recipients"]
    assert ids(session, tag="低") == []  # tags match whole
    assert ids(session, q="audit", department="civil") == []
    assert len(ids(session)) == 5


def test_unknown_level_is_a_bad_request(session: Session) -> None:
    with pytest.raises(BadRequest, match="unknown level"):
        ids(session, level="L9")


def test_demo_classification(session: Session) -> None:
    payroll = service.get_dataset(session=session, dataset_id="finance.payroll")
    levels = {f.name: (f.level, f.pi_category) for f in payroll.fields}
    assert levels["id_number"] == ("L3", "id_number")
    assert levels["bank_card"] == ("L3", "bank_card")
    assert levels["monthly_salary"] == ("L2", "none")
    assert levels["region_code"] == ("L1", "none")
    dibao = service.get_dataset(session=session, dataset_id="civil.dibao_recipients")
    assert {f.name: f.pi_category for f in dibao.fields}["phone"] == "phone"
    assert dibao.region_field == "region_code" and dibao.level == "L3"
    funds = service.get_dataset(session=session, dataset_id="finance.fund_disbursements")
    assert {f.name: f.pi_category for f in funds.fields}["payee_uscc"] == "uscc"
