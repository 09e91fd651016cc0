"""The fast UpdatedOn listing answers exactly what the general path does."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timedelta, timezone

import pytest
import requests

from nexudus_sandbox import NexudusSandbox, SandboxFaults, generate_jobs
from nexudus_sandbox.data import make_job, render_job, seeded_rng
from nexudus_sandbox.listing import (
    UpdatedOnIndex,
    list_jobs,
    list_jobs_indexed,
    parse_listing_query,
)

FIELD = "BusinessBackgroundJob_UpdatedOn"
BASE = datetime(2030, 3, 1, 12, 0, tzinfo=timezone.utc)


def minute(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


def random_params(rng: random.Random, span: list[datetime]) -> dict[str, str]:
    """A random listing query; mostly the indexed shape, sometimes not."""
    params = {
        rng.choice(["orderBy", "orderby", "OrderBy"]): rng.choice(
            ["UpdatedOn", "updatedon", "UpdatedOn", "UpdatedOn", "Id", "CreatedOn"]
        ),
        "dir": rng.choice(["1", "-1", "0", "2", "x", "-1"]),
        "page": str(rng.choice([1, 1, 2, 3, rng.randint(1, 40), 999])),
        "size": str(rng.choice([1, 7, 25, 100, 1000, 0, -3, 61])),
    }
    low, high = sorted(rng.sample(span, 2))
    choice = rng.randrange(7)
    if choice == 1:
        params[f"from_{FIELD}"] = minute(low)
    elif choice == 2:
        params[f"to_{FIELD}"] = minute(high)
    elif choice == 3:
        params[f"from_{FIELD}"] = minute(low)
        params[f"to_{FIELD}"] = minute(high)
    elif choice == 4:  # seconds precision, and a reversed (empty) range
        params[f"from_{FIELD}"] = high.strftime("%Y-%m-%dT%H:%M:%SZ")
        params[f"to_{FIELD}"] = low.strftime("%Y-%m-%dT%H:%M:%S")
    elif choice == 5:  # the exact-minute filter, plus the same bound in another case
        params[FIELD] = minute(low)
        params[f"FROM_{FIELD.lower()}"] = minute(low - timedelta(minutes=1))
    elif choice == 6 and rng.random() < 0.5:  # not indexed: general path
        params["BusinessBackgroundJob_Status"] = "Completed"
    return params


def mutate(sandbox: NexudusSandbox, rng: random.Random, step: int) -> None:
    """Change data between queries through every supported route."""
    ids = sorted(sandbox.served_ids())
    action = step % 6
    if action == 0:  # many jobs into a few seconds: ties broken by Id
        when = BASE + timedelta(seconds=rng.randint(0, 3))
        sandbox.touch(rng.sample(ids, min(15, len(ids))), at=when)
    elif action == 1:
        sandbox.add_jobs(rng.randint(1, 5), at=BASE + timedelta(minutes=rng.randint(-90, 90)))
    elif action == 2:
        sandbox.delete([*rng.sample(ids, 3), 1, 2])
    elif action == 3:  # a batch big enough to rebuild instead of moving entries
        sandbox.touch(rng.sample(ids, min(300, len(ids))), at=BASE - timedelta(days=1))
    elif action == 4:  # behind the sandbox's back, then reindex(), as documented
        with sandbox.lock:
            for job_id in rng.sample(ids, 4):
                sandbox.jobs[job_id]["UpdatedOn"] = BASE + timedelta(microseconds=rng.randint(0, 9))
            sandbox.jobs[ids[0]]["UpdatedOn"] = None  # nulls sort first, never in a range
        sandbox.reindex()
    else:
        sandbox.touch(rng.sample(ids, 2))  # now


@pytest.mark.parametrize("convention", ["1/-1", "0/1"])
def test_indexed_and_general_paths_agree_while_data_changes(convention: str) -> None:
    rng = random.Random(f"index-{convention}")
    sandbox = NexudusSandbox(
        records=1500,
        seed=13,
        faults=SandboxFaults(dir_convention=convention),  # type: ignore[arg-type]
    )
    span = [BASE + timedelta(minutes=offset) for offset in range(-120, 121, 7)]
    span += [job["UpdatedOn"] for job in rng.sample(list(sandbox.jobs.values()), 20)]
    index = sandbox._updated_index
    indexed_queries = 0
    for step in range(150):
        if step % 3 == 0:
            mutate(sandbox, rng, step // 3)
        params = random_params(rng, span)
        hits = index.hits
        fast = sandbox.render_listing(params)
        assert fast == sandbox.render_listing(params, indexed=False), params
        indexed_queries += index.hits - hits
    assert indexed_queries >= 80  # most queries really took the fast path
    assert index.rebuilds >= 10  # reindex() and big batches rebuilt it


def test_listing_route_uses_the_index() -> None:
    with NexudusSandbox(records=300, seed=2) as sandbox:
        params = {"orderBy": "UpdatedOn", "dir": "-1", "size": "50", "page": "2"}
        response = requests.get(
            sandbox.url + "/api/sys/businessbackgroundjobs",
            params=params,
            headers={"Authorization": "Bearer sandbox-token"},
            timeout=5,
        )
        assert response.json() == sandbox.render_listing(params, indexed=False)
        assert sandbox._updated_index.hits == 1


def test_index_notices_direct_changes_on_the_page_it_serves() -> None:
    jobs = {job["Id"]: job for job in generate_jobs(200, 4)}
    index = UpdatedOnIndex()
    query = parse_listing_query({"orderBy": "UpdatedOn", "dir": "-1", "size": "10"})
    assert list_jobs_indexed(jobs, query, index) == list_jobs(jobs.values(), query)
    newest = max(jobs.values(), key=lambda job: (job["UpdatedOn"], job["Id"]))
    # Changed without telling the index, on the page being served: noticed, rebuilt.
    newest["UpdatedOn"] = datetime(2001, 1, 1, tzinfo=timezone.utc)
    assert list_jobs_indexed(jobs, query, index) == list_jobs(jobs.values(), query)
    added = make_job(seeded_rng(1), 999999, BASE, BASE)
    jobs[999999] = added  # a resized mapping is noticed too
    assert list_jobs_indexed(jobs, query, index)["Records"][0]["Id"] == 999999
    assert index.rebuilds == 3


def test_index_steps_aside_for_values_it_cannot_order() -> None:
    jobs = {job["Id"]: job for job in generate_jobs(20, 4)}
    naive = datetime(2030, 1, 1)  # naive on purpose
    for job in jobs.values():
        job["UpdatedOn"] = naive
    query = parse_listing_query({"orderBy": "UpdatedOn"})
    index = UpdatedOnIndex()
    assert index.select(jobs, query) is None
    assert list_jobs_indexed(jobs, query, index) == list_jobs(jobs.values(), query)


def digest(jobs: list[dict[str, object]]) -> str:
    return hashlib.sha256(json.dumps([render_job(job) for job in jobs]).encode()).hexdigest()


def test_generated_data_is_unchanged_by_the_faster_generator() -> None:
    # Digests of the data the original (uuid/json/randint-based) generator produced.
    assert digest(generate_jobs(2000, 42)) == (
        "59c57a55de0c8cb36e42cc9b9411672cf7cdf4b83cfc553e188a954e0cca4a61"
    )
    assert digest(generate_jobs(500, 7)) == (
        "c241e13afc130c851e9a4f7811e9e9e30334d4110c179c70cc0488af372bb33d"
    )
    rng = random.Random("x")
    when = datetime(2030, 5, 5, tzinfo=timezone.utc)
    made = [make_job(rng, 1 + offset, when, when) for offset in range(200)]
    assert digest(made) == "18e77688cd173e346dcc3cf11fd51ebb0cc859446fbe1b25313cc8dd021743ed"
