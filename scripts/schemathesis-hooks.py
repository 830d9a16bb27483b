"""schemathesis hooks for scripts/schemathesis (loaded through SCHEMATHESIS_HOOKS).

POST /ledger/faults with {"down": true} takes a synchronizer of the embedded ledger down until a
{"down": false} brings it back; generated sequences do not reliably send the second, and an outage
would turn every later check of credits, holdings and settlements into 503s. The operation is still
exercised (its validation, its errors and its 200 are checked), but a request that would take a
synchronizer down is sent as {"down": false} instead.
"""
import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.operation.path == "/ledger/faults" and isinstance(case.body, dict):
        if case.body.get("down") is True:
            case.body["down"] = False
