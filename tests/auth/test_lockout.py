"""The rules of failed sign-ins, without a database (gridmap/auth/lockout.py)."""

import pytest

from gridmap.auth.lockout import SignInGuard, SignInPolicy, delay, locked_for

POLICY = SignInPolicy(free_failures=5, first_delay=60, max_delay=1800, lock_addresses=3,
                      lock_window=900)  # fmt: skip


def test_an_address_waits_1_2_4_minutes_from_the_fifth_failure_capped():
    waits = [delay(POLICY, n) for n in range(1, 12)]
    assert waits == [0, 0, 0, 0, 60, 120, 240, 480, 960, 1800, 1800]
    assert delay(POLICY, 10_000) == 1800  # no overflow, however many


@pytest.mark.parametrize(("ages", "locked"), [
    ([], 0.0),
    ([10.0, 20.0], 0.0),  # two addresses: not enough
    ([10.0, 20.0, 100.0], 800.0),  # the third newest failed 100 s ago: 800 s to go
    ([10.0, 20.0, 100.0, 500.0], 800.0),  # older ones do not matter
    ([10.0, 20.0, 900.0], 0.0),  # the third is out of the window
])  # fmt: skip
def test_the_account_is_locked_while_enough_addresses_failed_in_the_window(ages, locked):
    assert locked_for(POLICY, ages) == locked


@pytest.mark.parametrize(("client", "key"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("testclient", "testclient"),
])  # fmt: skip
def test_an_ipv6_client_is_known_by_its_64(client, key):
    assert SignInGuard.address(client) == key


def test_the_policy_comes_from_the_settings(settings):
    tuned = settings.model_copy(update={"rate_sign_in_lock_addresses": 25})
    assert SignInPolicy.from_settings(tuned).lock_addresses == 25
    assert SignInPolicy.from_settings(settings) == SignInPolicy()
