# Start of every e2e test that uses the namespace lab: strict mode, the shared scripts,
# the check helpers, and teardown of the lab on any exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
source "$ROOT/scripts/lab.sh"
source "$ROOT/test/e2e/lib.sh"
trap lab_down EXIT
