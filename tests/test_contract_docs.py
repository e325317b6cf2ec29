"""The contract's generated files (column docs, dbt seed of codes) match the code that enforces it."""

from orchestration.cli import main


def test_generated_contract_files_are_up_to_date():
    assert main(["contract", "--check"]) == 0
