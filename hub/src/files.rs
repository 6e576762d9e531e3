//! Files the hub keeps (its database and the database's WAL and shared
//! memory, its keys) are readable by its own user only: another account on
//! the server must not read citizens' records or the signing key. SQLite
//! gives the `-wal` and `-shm` files the mode of the database file, so the
//! database is made 0600 before SQLite first opens it.

use std::path::Path;

/// Make `dir` (and its parents) if missing; a directory made here is 0700.
/// An existing directory is left as it is (it may be shared, like /tmp).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Make `path` an empty 0600 file if it does not exist; tighten an existing
/// one (and its SQLite companions) to 0600.
pub fn private_database(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        private_dir(parent)?;
    }
    if !path.exists() {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        match o.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    for companion in ["", "-wal", "-shm", "-journal"] {
        let p = std::path::PathBuf::from(format!("{}{companion}", path.display()));
        tighten(&p)?;
    }
    Ok(())
}

#[cfg(unix)]
fn tighten(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Not through a link: a link planted beside the database must not make
    // the hub change the mode of whatever it points at.
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_symlink() => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{}: a symbolic link where a database file belongs", p.display()))),
        Ok(m) if m.is_file() && m.permissions().mode() & 0o077 != 0 => std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)),
        _ => Ok(()),
    }
}

#[cfg(not(unix))]
fn tighten(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_database_its_wal_and_a_new_data_dir_are_the_owners_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("hub-data");
        let db = dir.join("hub.db");
        // Held open: SQLite removes the WAL and shared memory at the last close.
        let _open = crate::db::HubDb::open(&db).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for f in ["hub.db", "hub.db-wal", "hub.db-shm"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        // A database made by an older hub, 0644: tightened when opened.
        let old = tmp.path().join("old.db");
        std::fs::write(&old, b"").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        crate::db::HubDb::open(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
        // A link planted where the WAL belongs: refused, its target untouched.
        let target = tmp.path().join("someone-elses-file");
        std::fs::write(&target, b"x").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let linked = tmp.path().join("linked.db");
        std::os::unix::fs::symlink(&target, tmp.path().join("linked.db-wal")).unwrap();
        assert!(crate::db::HubDb::open(&linked).is_err());
        assert_eq!(mode(&target), 0o644, "the link's target keeps its mode");
    }
}
