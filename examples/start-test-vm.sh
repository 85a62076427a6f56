#!/bin/sh
# STAND-IN for VM creation, for trying ciq (`ciq up --config examples/ciq.toml`).
# It creates NO virtual machine: it only prints what a real starter would do and notes
# the start in $CIQ_EXAMPLE_LOG (default ./started-tests.log).
#
# A real start-VM runner gets the same contract:
#   argv      as configured, e.g. ["/usr/local/bin/start-test-vm", "{vm_name}"]
#   stdin     JSON: {"test_id":42,"platform":"linux","vm_name":"linux-42",
#             "test_type":"commit","branch":"master","commit":"abc123","pr_nr":0}
#   env       CIQ_TASK_ID, CIQ_ATTEMPT, CIQ_ARGS (the same JSON), the worker's own
#             environment (cloud credentials, bot token) and the runner's env table
#   exit      0 = started, 75 = try again later, anything else = failed
#   stdout    on a cloud error, print as the last thing:
#             {"error": {"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": "..."}}
#             known codes decide retry vs fail; the message goes to the log only.
set -eu
vm_name=${1:?usage: start-test-vm.sh VM_NAME}
args=$(cat)
echo "stand-in: would create VM $vm_name for $args (attempt ${CIQ_ATTEMPT:-1})"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) started $vm_name" >> "${CIQ_EXAMPLE_LOG:-started-tests.log}"
