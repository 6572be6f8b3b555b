"""`python -m destination_kvdb`: the Flow materialization, the Airbyte destination wrapped by
flow-sdk's MaterializeShim."""

from destination_kvdb.destination import DestinationKvdb
from flow_sdk.airbyte.destination.materialize import MaterializeShim


def main() -> None:
    MaterializeShim(delegate=DestinationKvdb()).main()


if __name__ == "__main__":
    main()
