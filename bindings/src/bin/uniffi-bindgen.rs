//! Generates the Kotlin bindings from the built library (library mode).
fn main() {
    uniffi::uniffi_bindgen_main()
}
