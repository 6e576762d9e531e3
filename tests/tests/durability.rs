//! kill -9 at random moments: every save the child reported as committed is
//! still there after reopening, and the file passes `integrity_check`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use vaxdesk_core::model::{EventId, PersonId};
use vaxdesk_core::store::Store;

const ROUNDS: usize = 60;

#[test]
fn sigkill_never_loses_an_acknowledged_save() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("durable.db");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut persons, mut doses) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_save_loop"))
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(rng.random_range(30..250)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(status.code().is_none(), "round {round}: child exited by itself: {status:?} {err}");
        for line in reader.join().unwrap() {
            match line.split(' ').collect::<Vec<_>>()[..] {
                ["committed", "person", id] => persons.push(id.parse::<PersonId>().unwrap()),
                ["committed", "dose", id] => doses.push(id.parse::<EventId>().unwrap()),
                _ => panic!("round {round}: unexpected line {line:?}"),
            }
        }
        let store = Store::open(&db).unwrap();
        assert_eq!(store.integrity_check().unwrap(), Ok(()), "round {round}");
        for id in &persons {
            assert!(store.person(*id).unwrap().is_some(), "round {round}: acknowledged person {id} lost");
        }
        for id in &doses {
            assert!(store.dose_event(*id).unwrap().is_some(), "round {round}: acknowledged dose {id} lost");
        }
        // Nothing beyond what was written once: one dose per person at most.
        assert!(store.dose_event_count().unwrap() <= store.person_count().unwrap());
    }
    assert!(doses.len() > ROUNDS, "the child saved too little to prove anything: {} doses", doses.len());
    eprintln!("{} rounds, {} persons and {} doses acknowledged, none lost", ROUNDS, persons.len(), doses.len());
}
