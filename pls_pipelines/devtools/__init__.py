"""Developer tools that are not part of the pipeline: a throwaway Dagster UI for tests and screenshots.

webserver.py starts `dagster-webserver` on 127.0.0.1 with an isolated instance and talks to its GraphQL API;
tests/test_dagster_ui.py and scripts/asset_graph_screenshot.py share it.
"""

from pls_pipelines.devtools.webserver import GraphQLError, WebserverError, dagster_webserver, graphql

__all__ = ["GraphQLError", "WebserverError", "dagster_webserver", "graphql"]
