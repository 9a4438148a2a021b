from collections import Counter
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from tests.loop.test_lifecycle import ReferralLifecycle

def test_probe(loop):
    seen = Counter()
    class M(ReferralLifecycle):
        def teardown(self):
            if hasattr(self, "path"):
                seen[tuple(self.path)] += 1
    M.loop = loop
    for i in range(3):
        run_state_machine_as_test(M, settings=settings(max_examples=40, stateful_step_count=14, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]))
    ends = Counter(p[-1] for p in seen.elements())
    print(ends, sum(seen.values()), Counter(len(p) for p in seen.elements()))
