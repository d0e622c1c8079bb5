//! Inconsistent module declarations make patching refuse to run, naming
//! each problem; the queries still answer.

mod common;

use greenpatch::monkey::{
    get_original, patch_all, patch_module, patched_modules, PatchAll, PatchError, RegistryProblem, Slot,
};

fn f() -> u8 {
    0
}
static A: Slot<fn() -> u8> = Slot::new("a", f, f);
static A_AGAIN: Slot<fn() -> u8> = Slot::new("a", f, f);

mod one {
    greenpatch::patchable_module!(name = "t-dup", items = [super::A]);
}
mod two {
    greenpatch::patchable_module!(name = "t-dup", items = [super::A]);
}
greenpatch::patchable_module!(name = "time", items = [A]);
greenpatch::patchable_module!(builtin, name = "t-fake-builtin", items = []);
greenpatch::patchable_module!(name = "t-twice", items = [A, A_AGAIN]);

#[test]
fn inconsistent_declarations_are_reported_and_block_patching() {
    let error = patch_all(PatchAll::default()).unwrap_err();
    let PatchError::InvalidRegistry(problems) = &error else {
        panic!("expected InvalidRegistry, got {error:?}");
    };
    assert!(problems.contains(&RegistryProblem::DuplicateModule {
        module: "t-dup",
        declared_in: vec!["registry_problems::one", "registry_problems::two"],
    }));
    assert!(problems.contains(&RegistryProblem::ReservedName { module: "time", declared_in: "registry_problems" }));
    assert!(
        problems.contains(&RegistryProblem::NotABuiltin { module: "t-fake-builtin", declared_in: "registry_problems" })
    );
    assert!(problems.contains(&RegistryProblem::DuplicateItem { module: "t-twice", item: "a" }));
    let text = error.to_string();
    assert!(text.contains("`t-dup`") && text.contains("rename"), "{text}");

    assert!(matches!(patch_module("t-twice", "t-dup", None), Err(PatchError::InvalidRegistry(_))));
    assert!(patched_modules().is_empty());
    assert!(get_original::<fn() -> u8>("t-dup", "a").is_some());
}
