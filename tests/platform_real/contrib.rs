//! The vendored platform copy and the contrib files beside the bridge.

use super::*;
