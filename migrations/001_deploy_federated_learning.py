"""Deploy the round contract, with open registration or an allow-list as `chain.migrate.deploy` chose."""

from chain.migrate import MigrationContext


def migrate(context: MigrationContext) -> None:
    context.deploy("FederatedLearning", context.options["registration_open"])
