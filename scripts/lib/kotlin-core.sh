# Sourced by scripts/kotlin-test and scripts/android-test: kotlinc (npm) in
# $KC, the core built for the host and its Kotlin bindings generated into
# build-kt/gen. Run from the repository's root.

KC=.tools/node_modules/kotlin-compiler
[ -x $KC/bin/kotlinc ] || npm install --prefix .tools --no-audit --no-fund kotlin-compiler@2.4.20 >&2

# The whole workspace, all targets: the same features as `cargo test`, so
# after scripts/test's build this compiles nothing (building only the two
# packages would rebuild half the dependency tree with other features).
cargo build --locked --workspace --all-targets
target/debug/uniffi-bindgen \
    generate --library target/debug/libvaxdesk_ffi.so --language kotlin --no-format --out-dir build-kt/gen
