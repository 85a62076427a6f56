//! ciq_bridge.py against the real platform code on MariaDB, with the fake GCP and GitHub.

use super::*;

#[test]
fn the_platform_imports_with_the_generated_config_and_its_models_make_the_schema() {
    let p = RealPlatform::new();
    let tables = p.tables();
    for t in [
        "test",
        "test_progress",
        "gcp_instance",
        "pending_deletion",
        "maintenance_mode",
        "fork",
    ] {
        assert!(tables.contains(&t.to_string()), "{t} missing from {tables:?}");
    }
    // run.py imported with the generated config: the pending command answers from it.
    let pending = p.pending();
    assert_eq!(pending["linux"]["pending"], json!([]));
    assert_eq!(pending["windows"]["maintenance"], json!(false));
}
