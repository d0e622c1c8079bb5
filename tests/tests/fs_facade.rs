//! The `fs` facade before and after `patch_all()`: std's calls on the
//! calling thread before, the blocking pool after. One test, because
//! patching is process-wide.
//!
//! The proof that a patched call runs off the hub: a FIFO. Opening a FIFO
//! for reading blocks until a writer opens it. Two green threads of one
//! hub — a reader and a writer — can only meet if the reader's `open`
//! blocks a pool thread rather than the hub.

use std::ffi::CString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use greenpatch::fs;
use greenpatch::monkey::{is_module_patched, is_object_patched, patch_all, PatchAll};
use greenpatch::{thread, Flavor};

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gp-fs-facade-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mkfifo(p: &Path) {
    let c = CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// The std API through the facade, whatever its state.
fn exercise(dir: &Path) -> Flavor {
    let p = dir.join("a.txt");
    fs::write(&p, b"hello").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"hello");
    assert_eq!(fs::read_to_string(&p).unwrap(), "hello");
    assert!(fs::exists(&p).unwrap());
    assert_eq!(fs::metadata(&p).unwrap().len(), 5);
    let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(b" world").unwrap();
    f.sync_all().unwrap();
    let flavor = f.flavor();
    let mut s = String::new();
    fs::File::open(&p).unwrap().read_to_string(&mut s).unwrap();
    assert_eq!(s, "hello world");
    fs::copy(&p, dir.join("b.txt")).unwrap();
    fs::rename(dir.join("b.txt"), dir.join("c.txt")).unwrap();
    fs::DirBuilder::new().recursive(true).create(dir.join("x/y")).unwrap();
    let mut names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["a.txt", "c.txt", "x"]);
    fs::remove_file(dir.join("c.txt")).unwrap();
    assert!(fs::metadata(dir.join("c.txt")).is_err());
    flavor
}

#[test]
fn fs_is_std_before_patching_and_runs_on_the_pool_after() {
    // Before: std's calls, blocking files, nothing patched.
    let before = scratch("before");
    assert!(!is_module_patched("fs"));
    assert_eq!(exercise(&before), Flavor::Blocking);
    assert!(!is_object_patched("fs", "read"));
    fs::write(before.join("early.txt"), b"early").unwrap();
    let early = fs::File::open(before.join("early.txt")).unwrap();

    let outcome = patch_all(PatchAll::default()).unwrap();
    assert_eq!(outcome.modules(), ["time", "thread", "fs", "socket", "libc", "queue"]);
    assert!(is_object_patched("fs", "read") && is_object_patched("fs", "File"));

    // A file opened before patching stays blocking; reading it from a
    // green thread is reported once, naming where it was opened.
    let read_early = thread::spawn(move || {
        let mut s = String::new();
        (&early).read_to_string(&mut s).unwrap();
        s
    });
    assert_eq!(read_early.join().unwrap(), "early");
    let later = patch_all(PatchAll::default()).unwrap();
    let stale: Vec<String> =
        later.warnings().iter().map(|w| w.to_string()).filter(|w| w.contains("fs::File")).collect();
    assert_eq!(stale.len(), 1, "{:?}", later.warnings());
    assert!(stale[0].contains("fs_facade.rs"), "{}", stale[0]);
    fs::remove_dir_all(&before).unwrap();

    // After: the same code, green files.
    let after = scratch("after");
    assert_eq!(exercise(&after), Flavor::Green);

    // A reader and a writer of a FIFO, both green threads of one hub.
    let fifo = after.join("pipe");
    mkfifo(&fifo);
    let (tx, rx) = mpsc::channel();
    let f2 = fifo.clone();
    std::thread::spawn(move || {
        let reader = {
            let p = f2.clone();
            thread::spawn(move || fs::read_to_string(&p).unwrap())
        };
        let writer = thread::spawn(move || fs::write(&f2, b"met").unwrap());
        writer.join().unwrap();
        let _ = tx.send(reader.join().unwrap());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(got) => assert_eq!(got, "met"),
        Err(_) => {
            // Unblock the stuck hub before failing.
            let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
            panic!("the FIFO's reader blocked its hub: fs calls did not run on the blocking pool");
        }
    }
    assert!(greenpatch::dump().pool.workers >= 1);
    fs::remove_dir_all(&after).unwrap();
}
