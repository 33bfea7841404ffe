"""The paper harness: config-driven benchmark runner, scenarios and report."""
