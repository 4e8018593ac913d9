"""Deploy the round contract; registration is open unless the deployer asked for an allow-list."""

from chain.migrate import MigrationContext


def migrate(context: MigrationContext) -> None:
    context.deploy("FederatedLearning", context.options.get("registration_open", True))
