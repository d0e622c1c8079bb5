//! A driver plugin named only with `use_plugin!` is linked and runs, and
//! `Patched::plugins()` lists it.

greenpatch::use_plugin!(greenpatch_kvdriver);

use greenpatch::monkey::{patch_all, PatchAll};

#[test]
fn a_plugin_named_with_use_plugin_runs_and_is_listed() {
    let outcome = patch_all(PatchAll::default()).expect("no plugin failed");
    let plugins = outcome.plugins();
    assert!(plugins.contains(&"kvdriver"), "kvdriver's entry point did not run: {plugins:?}");
    // Nothing new on a second call: no event, so no plugin ran.
    assert!(patch_all(PatchAll::default()).unwrap().plugins().is_empty());
}
