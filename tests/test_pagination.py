"""Paging on the envelope: when the tap asks for another page, and when it stops."""

from __future__ import annotations

import pytest

from tap_nexudus_jobs.errors import NexudusResponseError
from tests.conftest import MOCK_LISTING, job, mock_config, page, run_tap


def page_params(requests_mock) -> list[str]:
    return [request.qs["page"][0] for request in requests_mock.request_history]


def pages_by_number(requests_mock, responses: dict[int, dict]) -> None:
    def respond(request, context):
        return responses[int(request.qs["page"][0])]

    requests_mock.get(MOCK_LISTING, json=respond)


def test_has_next_page_false_on_the_first_page_means_one_request(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, json=page([job(1, "2025-01-01T00:00:00Z")], has_next=False))

    run = run_tap(mock_config())

    assert page_params(requests_mock) == ["1"]
    assert run.ids == [1]


def test_follows_current_page_plus_one_and_stops_after_the_last(requests_mock) -> None:
    pages_by_number(
        requests_mock,
        {
            1: page(
                [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:01:00Z")],
                number=1,
                size=2,
                total=5,
            ),
            2: page(
                [job(3, "2025-01-01T00:02:00Z"), job(4, "2025-01-01T00:03:00Z")],
                number=2,
                size=2,
                total=5,
            ),
            3: page([job(5, "2025-01-01T00:04:00Z")], number=3, size=2, total=5),
        },
    )

    run = run_tap(mock_config(page_size=2))

    assert page_params(requests_mock) == ["1", "2", "3"]
    assert run.ids == [1, 2, 3, 4, 5]


def test_an_empty_page_stops_paging_even_if_has_next_page(requests_mock) -> None:
    first = [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:09Z")]
    pages_by_number(
        requests_mock,
        {
            1: page(first, number=1, size=2, total=6),
            2: page([], number=2, size=2, total=6, has_next=True),
        },
    )

    run = run_tap(mock_config(page_size=2))

    assert page_params(requests_mock) == ["1", "2"]
    assert run.ids == [1, 2]


def test_a_server_that_repeats_a_page_is_stopped_not_followed(requests_mock) -> None:
    same = [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:30Z")]
    # Page numbers advance in the envelope, but the same jobs come back every time.
    pages_by_number(
        requests_mock,
        {n: page(same, number=n, size=2, total=100) for n in range(1, 60)},
    )

    with pytest.raises(
        NexudusResponseError, match="served the same jobs for page 2 as for the page before"
    ):
        run_tap(mock_config(page_size=2))

    assert page_params(requests_mock) == ["1", "2"]


def test_a_server_that_ignores_the_page_parameter_is_stopped(requests_mock) -> None:
    requests_mock.get(
        MOCK_LISTING,
        json=lambda request, context: page(
            [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:01Z")],
            number=1,
            size=2,
            total=9,
        ),
    )

    with pytest.raises(NexudusResponseError, match="returned page 1 when page 2 was requested"):
        run_tap(mock_config(page_size=2))

    assert page_params(requests_mock) == ["1", "2"]


def test_a_version_read_twice_in_one_run_is_emitted_once(requests_mock) -> None:
    pages_by_number(
        requests_mock,
        {
            1: page(
                [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:30Z")],
                number=1,
                size=2,
                total=4,
            ),
            2: page(
                [job(2, "2025-01-01T00:00:30Z"), job(3, "2025-01-01T00:01:00Z")],
                number=2,
                size=2,
                total=4,
            ),
        },
    )

    run = run_tap(mock_config(page_size=2))

    assert run.ids == [1, 2, 3]
