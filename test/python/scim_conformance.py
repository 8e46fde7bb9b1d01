"""Runs scim2-tester's check_server against a SCIM base URL; prints one line per check.

Usage: scim_conformance.py BASE_URL TOKEN
Exit status: 0 when no check reports ERROR or CRITICAL, 1 otherwise, 2 when it cannot run.
"""
import sys

try:
    from httpx import Client
    from scim2_client.engines.httpx import SyncSCIMClient
    from scim2_tester import check_server
    from scim2_tester.utils import Status
except ImportError as exc:  # pragma: no cover - the Node test skips on this
    print(f"scim2-tester not importable: {exc}")
    sys.exit(2)


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    client = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    results = check_server(SyncSCIMClient(client))
    failed = 0
    for result in results:
        where = f" [{result.resource_type}]" if result.resource_type else ""
        print(f"{result.status.name} {result.title}{where}: {result.reason or ''}")
        if result.status in (Status.ERROR, Status.CRITICAL):
            failed += 1
    print(f"checks: {len(results)}, failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
