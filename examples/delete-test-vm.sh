#!/bin/sh
# STAND-IN for VM deletion (see start-test-vm.sh): deletes nothing, notes the call.
# A real one exits 0 once the VM is gone (a RESOURCE_NOT_FOUND report counts as gone);
# any failure leaves the instance row so the next check_expired_instances run retries.
set -eu
vm_name=${1:?usage: delete-test-vm.sh VM_NAME}
echo "stand-in: would delete VM $vm_name"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) deleted $vm_name" >> "${CIQ_EXAMPLE_LOG:-started-tests.log}"
