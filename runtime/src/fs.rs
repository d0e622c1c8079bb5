//! Green files: `std::fs` whose blocking calls run on the blocking pool.
//!
//! # Model
//! Regular files are always "ready" to the kernel's readiness APIs, so they
//! cannot wait in the reactor; instead every call that may touch the disk
//! runs on the blocking pool (`crate::blocking`) and parks only the calling
//! green thread. Data crosses the pool boundary in owned buffers: a read
//! comes back as a `Vec` (handed over without a copy where the API allows,
//! as in [`read`]); a write copies the caller's bytes, at most
//! [`MAX_CHUNK`] per trip, so even a very large write never holds the hub
//! for longer than one chunk's copy. Paths are copied into `PathBuf`s.
//!
//! The API is std's: same names, same argument and result types
//! (`std::fs::Metadata`, `std::fs::DirEntry`, `std::fs::Permissions`).
//!
//! # Invariants
//! - A [`File`]'s `std::fs::File` is shared (`Arc`) with the pool job that
//!   uses it; if the waiting green thread is killed, the job still finishes
//!   with its own reference and the result is dropped.
//! - Nothing here runs disk I/O on the hub's thread, except `seek` (an
//!   `lseek`, which never waits for the disk).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blocking;

/// Most bytes one read or write carries across the pool boundary.
///
/// ```
/// use std::io::Write;
/// let p = std::env::temp_dir().join(format!("gp-doc-chunk-{}", std::process::id()));
/// let mut f = greenpatch_runtime::fs::File::create(&p).unwrap();
/// let big = vec![0u8; greenpatch_runtime::fs::MAX_CHUNK + 1];
/// assert_eq!(f.write(&big).unwrap(), greenpatch_runtime::fs::MAX_CHUNK); // a short write
/// greenpatch_runtime::fs::remove_file(&p).unwrap();
/// ```
pub const MAX_CHUNK: usize = 1 << 20;

fn owned(p: impl AsRef<Path>) -> PathBuf {
    p.as_ref().to_path_buf()
}

/// Reads a whole file (on the blocking pool).
///
/// # Errors
/// As `std::fs::read`.
///
/// ```
/// let p = std::env::temp_dir().join(format!("gp-doc-read-{}", std::process::id()));
/// greenpatch_runtime::fs::write(&p, b"abc").unwrap();
/// assert_eq!(greenpatch_runtime::fs::read(&p).unwrap(), b"abc");
/// greenpatch_runtime::fs::remove_file(&p).unwrap();
/// ```
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let p = owned(path);
    blocking::run(move || std::fs::read(p))
}

/// Reads a whole UTF-8 file (on the blocking pool).
///
/// # Errors
/// As `std::fs::read_to_string` (`InvalidData` for bad UTF-8).
///
/// ```
/// let p = std::env::temp_dir().join(format!("gp-doc-rts-{}", std::process::id()));
/// greenpatch_runtime::fs::write(&p, "hé").unwrap();
/// assert_eq!(greenpatch_runtime::fs::read_to_string(&p).unwrap(), "hé");
/// greenpatch_runtime::fs::remove_file(&p).unwrap();
/// ```
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    let p = owned(path);
    blocking::run(move || std::fs::read_to_string(p))
}

/// Creates or truncates a file and writes `contents`, in chunks of at most
/// [`MAX_CHUNK`] bytes per pool trip.
///
/// # Errors
/// As `std::fs::write`.
///
/// ```
/// let p = std::env::temp_dir().join(format!("gp-doc-write-{}", std::process::id()));
/// greenpatch_runtime::fs::write(&p, vec![7u8; 3_000_000]).unwrap();
/// assert_eq!(greenpatch_runtime::fs::metadata(&p).unwrap().len(), 3_000_000);
/// greenpatch_runtime::fs::remove_file(&p).unwrap();
/// ```
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(contents.as_ref())
}

macro_rules! pool_fn {
    ($(#[$m:meta])* $name:ident($($arg:ident: $ty:ident),*) -> $ret:ty) => {
        $(#[$m])*
        ///
        /// # Errors
        #[doc = concat!("As `std::fs::", stringify!($name), "`.")]
        pub fn $name<$($ty: AsRef<Path>),*>($($arg: $ty),*) -> io::Result<$ret> {
            let ($($arg,)*) = ($(owned($arg),)*);
            blocking::run(move || std::fs::$name($($arg),*))
        }
    };
}

pool_fn!(
    /// Metadata of a path, following symlinks (on the blocking pool).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::metadata(".").unwrap().is_dir());
    /// ```
    metadata(path: P) -> std::fs::Metadata
);
pool_fn!(
    /// Metadata of a path, not following symlinks (on the blocking pool).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::symlink_metadata(".").unwrap().is_dir());
    /// ```
    symlink_metadata(path: P) -> std::fs::Metadata
);
pool_fn!(
    /// Creates one directory (on the blocking pool).
    ///
    /// ```
    /// let d = std::env::temp_dir().join(format!("gp-doc-mkdir-{}", std::process::id()));
    /// greenpatch_runtime::fs::create_dir(&d).unwrap();
    /// greenpatch_runtime::fs::remove_dir(&d).unwrap();
    /// ```
    create_dir(path: P) -> ()
);
pool_fn!(
    /// Creates a directory and its missing parents (on the blocking pool).
    ///
    /// ```
    /// let d = std::env::temp_dir().join(format!("gp-doc-mkdirs-{}", std::process::id()));
    /// greenpatch_runtime::fs::create_dir_all(d.join("a/b")).unwrap();
    /// greenpatch_runtime::fs::remove_dir_all(&d).unwrap();
    /// ```
    create_dir_all(path: P) -> ()
);
pool_fn!(
    /// Removes a file (on the blocking pool).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::remove_file("/nonexistent/gp").is_err());
    /// ```
    remove_file(path: P) -> ()
);
pool_fn!(
    /// Removes an empty directory (on the blocking pool).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::remove_dir("/nonexistent/gp").is_err());
    /// ```
    remove_dir(path: P) -> ()
);
pool_fn!(
    /// Removes a directory and everything in it (on the blocking pool).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::remove_dir_all("/nonexistent/gp").is_err());
    /// ```
    remove_dir_all(path: P) -> ()
);
pool_fn!(
    /// Renames a file or directory (on the blocking pool).
    ///
    /// ```
    /// let a = std::env::temp_dir().join(format!("gp-doc-mv-a-{}", std::process::id()));
    /// let b = a.with_extension("b");
    /// greenpatch_runtime::fs::write(&a, "x").unwrap();
    /// greenpatch_runtime::fs::rename(&a, &b).unwrap();
    /// greenpatch_runtime::fs::remove_file(&b).unwrap();
    /// ```
    rename(from: P, to: Q) -> ()
);
pool_fn!(
    /// Copies a file's contents and permissions; returns the bytes copied
    /// (on the blocking pool).
    ///
    /// ```
    /// let a = std::env::temp_dir().join(format!("gp-doc-cp-a-{}", std::process::id()));
    /// let b = a.with_extension("b");
    /// greenpatch_runtime::fs::write(&a, "xyz").unwrap();
    /// assert_eq!(greenpatch_runtime::fs::copy(&a, &b).unwrap(), 3);
    /// greenpatch_runtime::fs::remove_file(&a).unwrap();
    /// greenpatch_runtime::fs::remove_file(&b).unwrap();
    /// ```
    copy(from: P, to: Q) -> u64
);
pool_fn!(
    /// Creates a hard link `Q` to `P` (on the blocking pool).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::hard_link("/nonexistent/a", "/nonexistent/b").is_err());
    /// ```
    hard_link(original: P, link: Q) -> ()
);
pool_fn!(
    /// The absolute, symlink-free form of a path (on the blocking pool).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::canonicalize(".").unwrap().is_absolute());
    /// ```
    canonicalize(path: P) -> PathBuf
);
pool_fn!(
    /// The target of a symbolic link (on the blocking pool).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::read_link("/nonexistent/gp").is_err());
    /// ```
    read_link(path: P) -> PathBuf
);

/// Whether a path exists; errors other than "not found" are reported
/// (on the blocking pool).
///
/// # Errors
/// As `std::fs::exists`.
///
/// ```
/// assert!(greenpatch_runtime::fs::exists(".").unwrap());
/// assert!(!greenpatch_runtime::fs::exists("/nonexistent/gp").unwrap());
/// ```
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    let p = owned(path);
    blocking::run(move || p.try_exists())
}

/// Sets a path's permissions (on the blocking pool).
///
/// # Errors
/// As `std::fs::set_permissions`.
///
/// ```
/// let p = std::env::temp_dir().join(format!("gp-doc-perm-{}", std::process::id()));
/// greenpatch_runtime::fs::write(&p, "x").unwrap();
/// let mut perm = greenpatch_runtime::fs::metadata(&p).unwrap().permissions();
/// perm.set_readonly(true);
/// greenpatch_runtime::fs::set_permissions(&p, perm).unwrap();
/// greenpatch_runtime::fs::remove_file(&p).unwrap();
/// ```
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: std::fs::Permissions) -> io::Result<()> {
    let p = owned(path);
    blocking::run(move || std::fs::set_permissions(p, perm))
}

/// Lists a directory. The whole listing is read on the blocking pool, then
/// iterated here; entries are std's (`file_name`, `path` and usually
/// `file_type` need no further system call).
///
/// # Errors
/// The directory cannot be opened; per-entry errors are items.
///
/// ```
/// let names: Vec<_> = greenpatch_runtime::fs::read_dir(".").unwrap()
///     .map(|e| e.unwrap().file_name())
///     .collect();
/// assert!(!names.is_empty());
/// ```
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let p = owned(path);
    let entries = blocking::run(move || std::fs::read_dir(p).map(|rd| rd.collect::<Vec<_>>()))?;
    Ok(ReadDir { entries: entries.into_iter() })
}

/// The entries of a directory, read ahead by [`read_dir`].
///
/// ```
/// let mut rd = greenpatch_runtime::fs::read_dir(".").unwrap();
/// let first: Option<std::ffi::OsString> = rd.next().map(|e| e.unwrap().file_name());
/// assert!(first.is_some());
/// ```
#[derive(Debug)]
pub struct ReadDir {
    entries: std::vec::IntoIter<io::Result<std::fs::DirEntry>>,
}

impl Iterator for ReadDir {
    type Item = io::Result<std::fs::DirEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        self.entries.next()
    }
}

/// Options to open a [`File`] with, as `std::fs::OpenOptions`.
///
/// ```
/// let p = std::env::temp_dir().join(format!("gp-doc-oo-{}", std::process::id()));
/// let f = greenpatch_runtime::fs::OpenOptions::new().write(true).create(true).open(&p).unwrap();
/// # drop(f);
/// greenpatch_runtime::fs::remove_file(&p).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

macro_rules! option {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        pub fn $name(&mut self, on: bool) -> &mut OpenOptions {
            self.0.$name(on);
            self
        }
    };
}

impl OpenOptions {
    /// Everything off, as std.
    ///
    /// ```
    /// let o = greenpatch_runtime::fs::OpenOptions::new();
    /// assert!(o.open(".").is_err()); // no access mode chosen
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    option!(
        /// Read access.
        ///
        /// ```
        /// let f = greenpatch_runtime::fs::OpenOptions::new().read(true).open("Cargo.toml");
        /// # let _ = f;
        /// ```
        read
    );
    option!(
        /// Write access.
        ///
        /// ```
        /// let mut o = greenpatch_runtime::fs::OpenOptions::new();
        /// o.write(true);
        /// ```
        write
    );
    option!(
        /// Append mode.
        ///
        /// ```
        /// let mut o = greenpatch_runtime::fs::OpenOptions::new();
        /// o.append(true);
        /// ```
        append
    );
    option!(
        /// Truncate on open.
        ///
        /// ```
        /// let mut o = greenpatch_runtime::fs::OpenOptions::new();
        /// o.write(true).truncate(true);
        /// ```
        truncate
    );
    option!(
        /// Create if missing.
        ///
        /// ```
        /// let mut o = greenpatch_runtime::fs::OpenOptions::new();
        /// o.write(true).create(true);
        /// ```
        create
    );
    option!(
        /// Create, failing if it exists.
        ///
        /// ```
        /// let mut o = greenpatch_runtime::fs::OpenOptions::new();
        /// o.write(true).create_new(true);
        /// ```
        create_new
    );

    /// Unix permission bits for a created file.
    ///
    /// ```
    /// let mut o = greenpatch_runtime::fs::OpenOptions::new();
    /// o.write(true).create(true).mode(0o600);
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Extra `open(2)` flags.
    ///
    /// ```
    /// let mut o = greenpatch_runtime::fs::OpenOptions::new();
    /// o.read(true).custom_flags(libc_o_noatime());
    /// # fn libc_o_noatime() -> i32 { 0 }
    /// ```
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }

    /// Opens `path` (on the blocking pool).
    ///
    /// # Errors
    /// As `std::fs::OpenOptions::open`.
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::OpenOptions::new().read(true).open("/nonexistent/gp").is_err());
    /// ```
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let (o, p) = (self.0.clone(), owned(path));
        blocking::run(move || o.open(p)).map(File::from)
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

/// An open file whose reads, writes and syncs run on the blocking pool.
/// `&File` reads, writes and seeks too (the position is shared, as std).
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// use greenpatch_runtime::fs::File;
/// let p = std::env::temp_dir().join(format!("gp-doc-file-{}", std::process::id()));
/// let mut f = File::options().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
/// f.write_all(b"hello").unwrap();
/// f.seek(SeekFrom::Start(1)).unwrap();
/// let mut s = String::new();
/// f.read_to_string(&mut s).unwrap();
/// assert_eq!(s, "ello");
/// greenpatch_runtime::fs::remove_file(&p).unwrap();
/// ```
#[derive(Debug)]
pub struct File {
    inner: Arc<std::fs::File>,
}

impl File {
    /// Opens a file read-only (on the blocking pool).
    ///
    /// # Errors
    /// As `std::fs::File::open`.
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::File::open("/nonexistent/gp").is_err());
    /// ```
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates or truncates a file for writing (on the blocking pool).
    ///
    /// # Errors
    /// As `std::fs::File::create`.
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-create-{}", std::process::id()));
    /// let f = greenpatch_runtime::fs::File::create(&p).unwrap();
    /// # drop(f);
    /// greenpatch_runtime::fs::remove_file(&p).unwrap();
    /// ```
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    /// Creates a new file, failing if it exists (on the blocking pool).
    ///
    /// # Errors
    /// As `std::fs::File::create_new` (`AlreadyExists`).
    ///
    /// ```
    /// assert!(greenpatch_runtime::fs::File::create_new(".").is_err());
    /// ```
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create_new(true).open(path)
    }

    /// A blank [`OpenOptions`].
    ///
    /// ```
    /// let o = greenpatch_runtime::fs::File::options();
    /// # drop(o);
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Runs `f` with the file on the blocking pool.
    fn pool<T: Send + 'static>(&self, f: impl FnOnce(&std::fs::File) -> T + Send + 'static) -> T {
        let file = self.inner.clone();
        blocking::run(move || f(&file))
    }

    /// Flushes data and metadata to the device (on the blocking pool).
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-sync-{}", std::process::id()));
    /// let f = greenpatch_runtime::fs::File::create(&p).unwrap();
    /// f.sync_all().unwrap();
    /// greenpatch_runtime::fs::remove_file(&p).unwrap();
    /// ```
    pub fn sync_all(&self) -> io::Result<()> {
        self.pool(|f| f.sync_all())
    }

    /// Flushes data (not all metadata) to the device (on the blocking pool).
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-syncd-{}", std::process::id()));
    /// let f = greenpatch_runtime::fs::File::create(&p).unwrap();
    /// f.sync_data().unwrap();
    /// greenpatch_runtime::fs::remove_file(&p).unwrap();
    /// ```
    pub fn sync_data(&self) -> io::Result<()> {
        self.pool(|f| f.sync_data())
    }

    /// Truncates or extends the file (on the blocking pool).
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-len-{}", std::process::id()));
    /// let f = greenpatch_runtime::fs::File::create(&p).unwrap();
    /// f.set_len(10).unwrap();
    /// assert_eq!(f.metadata().unwrap().len(), 10);
    /// greenpatch_runtime::fs::remove_file(&p).unwrap();
    /// ```
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.pool(move |f| f.set_len(size))
    }

    /// The file's metadata (on the blocking pool).
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let f = greenpatch_runtime::fs::File::open("Cargo.toml").unwrap();
    /// assert!(f.metadata().unwrap().is_file());
    /// ```
    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.pool(|f| f.metadata())
    }

    /// Sets the file's permissions (on the blocking pool).
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-fperm-{}", std::process::id()));
    /// let f = greenpatch_runtime::fs::File::create(&p).unwrap();
    /// let perm = f.metadata().unwrap().permissions();
    /// f.set_permissions(perm).unwrap();
    /// greenpatch_runtime::fs::remove_file(&p).unwrap();
    /// ```
    pub fn set_permissions(&self, perm: std::fs::Permissions) -> io::Result<()> {
        self.pool(move |f| f.set_permissions(perm))
    }

    /// A second handle (duplicated descriptor, shared position).
    ///
    /// # Errors
    /// `dup` failed.
    ///
    /// ```
    /// let f = greenpatch_runtime::fs::File::open("Cargo.toml").unwrap();
    /// let g = f.try_clone().unwrap();
    /// # drop(g);
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        Ok(File::from(self.inner.try_clone()?))
    }

    /// The std file. If a pool job still holds it (only after a killed
    /// wait), wait for that job to finish first: it is one system call.
    fn into_std(self) -> std::fs::File {
        let mut shared = self.inner;
        loop {
            match Arc::try_unwrap(shared) {
                Ok(f) => return f,
                Err(s) => {
                    shared = s;
                    crate::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(MAX_CHUNK);
        if want == 0 {
            return Ok(0);
        }
        let data = self.pool(move |mut f| {
            let mut v = vec![0; want];
            let n = f.read(&mut v)?;
            v.truncate(n);
            Ok::<_, io::Error>(v)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let data = self.pool(|mut f| {
            let mut v = Vec::new();
            f.read_to_end(&mut v).map(|_| v)
        })?;
        let n = data.len();
        if buf.is_empty() {
            *buf = data;
        } else {
            buf.extend_from_slice(&data);
        }
        Ok(n)
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let chunk = buf[..buf.len().min(MAX_CHUNK)].to_vec();
        if chunk.is_empty() {
            return Ok(0);
        }
        self.pool(move |mut f| f.write(&chunk))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        // lseek never waits for the disk: no pool trip.
        (&*self.inner).seek(pos)
    }
}

crate::__io_by_value!(File; read: [read, read_to_end]; write: [write]);

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl From<std::fs::File> for File {
    fn from(f: std::fs::File) -> File {
        File { inner: Arc::new(f) }
    }
}

impl From<File> for std::fs::File {
    fn from(f: File) -> std::fs::File {
        f.into_std()
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File::from(std::fs::File::from(fd))
    }
}

impl From<File> for OwnedFd {
    fn from(f: File) -> OwnedFd {
        f.into_std().into()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl IntoRawFd for File {
    fn into_raw_fd(self) -> RawFd {
        self.into_std().into_raw_fd()
    }
}

impl FromRawFd for File {
    unsafe fn from_raw_fd(fd: RawFd) -> File {
        // SAFETY: forwarded: the caller hands over an open fd it owns.
        File::from(unsafe { std::fs::File::from_raw_fd(fd) })
    }
}
