//! `peer init` and `peer id`.

use crate::{DataDir, mode, stderr, stdout};

#[test]
fn init_creates_private_directory_config_and_key_then_refuses_a_second_time() {
    let dir = DataDir::new();

    let first = dir.run(&["init"], &[]);

    assert!(first.status.success(), "{}", stderr(&first));
    let id = stdout(&first).trim().to_owned();
    assert!(id.starts_with("12D3KooW"), "{id}");
    assert_eq!(mode(&dir.path), 0o700);
    assert_eq!(mode(&dir.file("identity.key")), 0o600);
    assert_eq!(mode(&dir.file("peer.toml")), 0o600);
    assert_eq!(
        std::fs::read_to_string(dir.file("peer.toml")).unwrap(),
        peer::init::EXAMPLE_CONFIG
    );
    let key = std::fs::read(dir.file("identity.key")).unwrap();

    let second = dir.run(&["init"], &[]);

    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("already initialised"),
        "{}",
        stderr(&second)
    );
    assert_eq!(std::fs::read(dir.file("identity.key")).unwrap(), key);
}

#[test]
fn init_with_force_config_rewrites_the_config_and_keeps_the_key() {
    let dir = DataDir::new();
    let first = dir.run(&["init"], &[]);
    let key = std::fs::read(dir.file("identity.key")).unwrap();
    std::fs::write(dir.file("peer.toml"), "[profile]\nlabel = \"mine\"\n").unwrap();

    let forced = dir.run(&["init", "--force-config"], &[]);

    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(stdout(&forced), stdout(&first));
    assert_eq!(std::fs::read(dir.file("identity.key")).unwrap(), key);
    assert_eq!(
        std::fs::read_to_string(dir.file("peer.toml")).unwrap(),
        peer::init::EXAMPLE_CONFIG
    );
}

#[test]
fn id_prints_the_peer_id_of_init_and_never_creates_a_key() {
    let dir = DataDir::new();
    let missing = dir.run(&["id"], &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(!dir.file("identity.key").exists());

    let init = dir.run(&["init"], &[]);
    let id = dir.run(&["id"], &[]);

    assert!(id.status.success(), "{}", stderr(&id));
    assert_eq!(stdout(&id), stdout(&init));
}

#[test]
fn init_with_a_corrupt_key_and_force_config_keeps_the_key() {
    let dir = DataDir::new();
    std::fs::create_dir_all(&dir.path).unwrap();
    std::fs::write(dir.file("identity.key"), b"junk").unwrap();

    let forced = dir.run(&["init", "--force-config"], &[]);

    assert_eq!(forced.status.code(), Some(1));
    assert_eq!(std::fs::read(dir.file("identity.key")).unwrap(), b"junk");
}
