"""RunResult files: round trip, strict reading of corrupt files, schema v2 with its typed
judgement, and version 1 files (the golden runs are stored at version 1) read as version 2."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from loadgate.budgets import Budget
from loadgate.errors import DataError
from loadgate.policy import GatePolicy
from loadgate.results import (
    SCHEMA_VERSION,
    BaselineIdentity,
    Judgement,
    read_result,
    write_result,
)

from .test_verdict import BETS, lognormal_ms, make_result

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"


def test_result_round_trip(tmp_path: Path) -> None:
    result = make_result({BETS: (lognormal_ms(10, 3_000, 7), 4)})
    result.endpoints[BETS].outcomes = {"odds_changed": 12}
    path = tmp_path / "result.json"
    write_result(path, result)
    back = read_result(path)
    assert back.endpoints[BETS].histogram.quantile(0.99) == result.endpoints[
        BETS
    ].histogram.quantile(0.99)
    assert back.endpoints[BETS].outcomes == {"odds_changed": 12}
    assert (back.run_id, back.status, back.users_reached) == ("r1", "complete", 50)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace('"schema_version": 2', '"schema_version": 7'), "newer than this"),
        (lambda t: t.replace('"schema": "loadgate.result"', '"schema": "x"'), "not a loadgate"),
        (lambda t: t.replace('"failures": 4', '"failures": "4"'), "failures: expected"),
        (lambda t: t[: len(t) // 2], "corrupt result"),
        (lambda t: t.replace('"run_id": "r1",', ""), "missing key 'run_id'"),
    ],
)
def test_corrupt_results_name_the_file(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "result.json"
    write_result(path, make_result({BETS: (lognormal_ms(10, 100, 7), 4)}))
    path.write_text(mutate(path.read_text()))
    with pytest.raises(DataError, match=message) as err:
        read_result(path)
    assert str(path) in str(err.value)


def test_a_result_is_frozen_and_changed_by_copy() -> None:
    result = make_result({BETS: (lognormal_ms(10, 100, 7), 0)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.run_id = "other"  # type: ignore[misc]
    assert dataclasses.replace(result, run_id="other").run_id == "other"
    assert result.run_id == "r1"


def test_the_judgement_round_trips_typed(tmp_path: Path) -> None:
    judgement = Judgement(
        GatePolicy(alpha=0.05, min_effects={BETS: 0.2}, quantiles=(0.5, 0.99)),
        (Budget(BETS, "p99", 250.0, "targets/local.toml"), Budget("*", "errors", 0.01)),
        BaselineIdentity("baselines/local/smoke.json", "baseline of 2026-11-30 (2 runs)",
                         ("b1", "b2")),
    )  # fmt: skip
    path = tmp_path / "result.json"
    write_result(path, dataclasses.replace(make_result({BETS: (lognormal_ms(10, 100, 7), 0)}),
                                           judged_with=judgement))  # fmt: skip
    stored = json.loads(path.read_text())
    assert stored["schema_version"] == SCHEMA_VERSION == 2
    assert stored["judged_with"]["baseline"]["runs"] == ["b1", "b2"]
    assert read_result(path).judged_with == judgement
    without = dataclasses.replace(judgement, baseline=None)
    write_result(path, dataclasses.replace(read_result(path), judged_with=without))
    assert read_result(path).judged_with == without


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda j: j.update(policy="strict"), "judged_with.policy: expected"),
        (lambda j: j["baseline"].update(runs="b1"), "judged_with.baseline.runs: expected"),
        (lambda j: j["budgets"].append({"endpoint": "x"}), "judged_with: missing key 'metric'"),
    ],
)
def test_a_corrupt_judgement_names_what_is_wrong(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    judgement = Judgement(GatePolicy(), (), BaselineIdentity("b.json", "baseline", ("b1",)))
    path = tmp_path / "result.json"
    write_result(path, dataclasses.replace(make_result({BETS: (lognormal_ms(10, 100, 7), 0)}),
                                           judged_with=judgement))  # fmt: skip
    data = json.loads(path.read_text())
    edit(data["judged_with"])
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=message) as err:
        read_result(path)
    assert str(path) in str(err.value)


def test_a_version_1_result_reads_as_version_2(tmp_path: Path) -> None:
    """A stored version 1 capacity run: its knee note goes (the verdict computes the knee
    from the stages), its judgement record is read typed, and writing it again writes
    version 2."""
    path = GOLDEN / "capacity.result.json"
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 1
    assert any(n.startswith("capacity: ") for n in raw["notes"])
    result = read_result(path)
    assert not any(n.startswith("capacity: ") for n in result.notes)
    assert [s.users for s in result.stages] == [200, 600, 1000]
    judged = result.judged_with  # version 1 kept the same record, untyped
    assert judged is not None and judged.baseline is None and judged.policy == GatePolicy()
    assert ("POST /bets", "p99", 250.0) in {(b.endpoint, b.metric, b.limit) for b in judged.budgets}
    assert result.profile["budgets"]  # and the profile its own copy
    again = tmp_path / "again.json"
    write_result(again, result)
    assert json.loads(again.read_text())["schema_version"] == 2
    back = read_result(again)
    assert back.notes == result.notes and len(back.stages) == len(result.stages)


SCHEMA_FILE = Path(__file__).parents[2] / "loadgate" / "schemas" / "result.schema.json"


@pytest.mark.parametrize("run", ["clean1", "open", "capacity"])
def test_results_written_now_match_the_shipped_json_schema(run: str, tmp_path: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    path = tmp_path / "result.json"
    write_result(path, read_result(GOLDEN / f"{run}.result.json"))
    data = json.loads(path.read_text())
    jsonschema.validate(data, schema)
    data["endpoints"]["POST /bets"]["failures"] = -1  # the schema is not a rubber stamp
    with pytest.raises(jsonschema.ValidationError, match="-1 is less than the minimum of 0"):
        jsonschema.validate(data, schema)
