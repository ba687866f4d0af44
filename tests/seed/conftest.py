import pytest

from seed_data.generate import SeedConfig, generate

# The whole city's areas and reference year, with a thin registry (2% of the people) so the
# suite stays fast; areas, units and incidents do not depend on the fraction.
CITY = SeedConfig(scale="city", population_fraction=0.02, seed=7)
DEMO = SeedConfig(scale="demo", population_fraction=1.0, seed=11)  # full density


@pytest.fixture(scope="session")
def city():
    return generate(CITY)


@pytest.fixture(scope="session")
def demo():
    return generate(DEMO)
