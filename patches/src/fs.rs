//! `fs`: `std::fs` until `patch_all()`, the same calls on the blocking
//! pool after it (gevent's `FileObjectThread`, behind std's names).
//!
//! # Model
//!
//! Regular files are always "ready" to epoll, so a green program cannot
//! wait for the disk in its reactor: a `read` that misses the page cache
//! stalls the whole hub. Once the `fs` module is patched, every call that
//! may touch the disk runs on the blocking pool and parks only the calling
//! green thread (`greenpatch_runtime::fs`). Before patching, every call is
//! std's, on the calling thread.
//!
//! | item | original | green |
//! |---|---|---|
//! | `fs.read`, `fs.write`, `fs.metadata`, … (one per function) | `std::fs`'s | the same call on the blocking pool |
//! | `fs.read_dir` | `std::fs::read_dir` | the directory read on the pool, entries handed back at once |
//! | `fs.File` (flavor of [`File`], [`OpenOptions::open`]) | `std::fs::File` | a file whose reads, writes and syncs run on the pool |
//! | `fs.DirBuilder` (flavor of [`DirBuilder::create`]) | `std::fs::DirBuilder` | the same on the pool |
//!
//! A [`File`] keeps the flavor it was opened with; a blocking one (opened
//! before patching) that reads or writes from a green thread after it is
//! reported once per opening site, as the other facades' stale objects. Metadata, permissions,
//! file types and directory entries are std's own types
//! ([`Metadata`], [`Permissions`], [`FileType`], [`DirEntry`]); a
//! `DirEntry`'s `metadata()` is std's call (one `stat` on the calling
//! thread), so call [`metadata`] with its `path()` to keep it off the hub.
//!
//! ```
//! use std::io::{Read, Write};
//! use greenpatch::fs;
//!
//! let dir = std::env::temp_dir().join(format!("gp-doc-fs-{}", std::process::id()));
//! fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("hello.txt");
//! let mut f = fs::File::create(&path).unwrap();
//! f.write_all(b"hello").unwrap();
//! assert_eq!(fs::read_to_string(&path).unwrap(), "hello");
//! assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
//! fs::remove_dir_all(&dir).unwrap();
//! ```

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::panic::Location;
use std::path::{Path, PathBuf};

use greenpatch_runtime as rt;

pub use std::fs::{DirEntry, FileTimes, FileType, Metadata, Permissions};

use crate::flavor::{both, flavor_items, Flavored};
use crate::Flavor;

flavor_items! {
    /// `fs.File`.
    pub(crate) static FILE = "File";
    /// `fs.DirBuilder`.
    pub(crate) static DIR_BUILDER = "DirBuilder";
}

/// Declares, for each function of `std::fs` taking only paths, its std
/// original and green version (`&Path` arguments), its registry slot and
/// its facade function with std's generic signature.
macro_rules! path_fns {
    ($($slot:ident $name:ident($($arg:ident: $ty:ident),+) -> $ret:ty;)+) => {
        mod original {
            use super::*;
            $(pub(super) fn $name($($arg: &Path),+) -> io::Result<$ret> { std::fs::$name($($arg),+) })+
        }
        mod green {
            use super::*;
            $(pub(super) fn $name($($arg: &Path),+) -> io::Result<$ret> { rt::fs::$name($($arg),+) })+
        }
        $(
            path_fns!(@slot $slot $name ($($arg),+) -> $ret);

            #[doc = concat!("As [`std::fs::", stringify!($name), "`]: on the calling thread before `patch_all()`, on the blocking pool after it.")]
            ///
            /// # Errors
            ///
            #[doc = concat!("As `std::fs::", stringify!($name), "`.")]
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("let _ = greenpatch::fs::", stringify!($name), "(", path_fns!(@example $($arg),+), ");")]
            /// ```
            pub fn $name<$($ty: AsRef<Path>),+>($($arg: $ty),+) -> io::Result<$ret> {
                ($slot.get())($($arg.as_ref()),+)
            }
        )+
    };
    (@slot $slot:ident $name:ident ($a:ident) -> $ret:ty) => {
        crate::slot! {
            #[doc = concat!("`fs.", stringify!($name), "`.")]
            pub(crate) static $slot: fn(&Path) -> io::Result<$ret> = (stringify!($name), original::$name, green::$name);
        }
    };
    (@slot $slot:ident $name:ident ($a:ident, $b:ident) -> $ret:ty) => {
        crate::slot! {
            #[doc = concat!("`fs.", stringify!($name), "`.")]
            pub(crate) static $slot: fn(&Path, &Path) -> io::Result<$ret> = (stringify!($name), original::$name, green::$name);
        }
    };
    (@example $a:ident) => { "\"/nonexistent/greenpatch-doc\"" };
    (@example $a:ident, $b:ident) => { "\"/nonexistent/greenpatch-doc-a\", \"/nonexistent/greenpatch-doc-b\"" };
}

path_fns! {
    READ read(path: P) -> Vec<u8>;
    READ_TO_STRING read_to_string(path: P) -> String;
    METADATA metadata(path: P) -> Metadata;
    SYMLINK_METADATA symlink_metadata(path: P) -> Metadata;
    CREATE_DIR create_dir(path: P) -> ();
    CREATE_DIR_ALL create_dir_all(path: P) -> ();
    REMOVE_FILE remove_file(path: P) -> ();
    REMOVE_DIR remove_dir(path: P) -> ();
    REMOVE_DIR_ALL remove_dir_all(path: P) -> ();
    CANONICALIZE canonicalize(path: P) -> PathBuf;
    READ_LINK read_link(path: P) -> PathBuf;
    EXISTS exists(path: P) -> bool;
    RENAME rename(from: P, to: Q) -> ();
    COPY copy(from: P, to: Q) -> u64;
    HARD_LINK hard_link(original: P, link: Q) -> ();
}

fn std_write(path: &Path, contents: &[u8]) -> io::Result<()> {
    std::fs::write(path, contents)
}

fn green_write(path: &Path, contents: &[u8]) -> io::Result<()> {
    rt::fs::write(path, contents)
}

fn std_set_permissions(path: &Path, perm: Permissions) -> io::Result<()> {
    std::fs::set_permissions(path, perm)
}

fn green_set_permissions(path: &Path, perm: Permissions) -> io::Result<()> {
    rt::fs::set_permissions(path, perm)
}

fn std_read_dir(path: &Path) -> io::Result<ReadDir> {
    std::fs::read_dir(path).map(|r| ReadDir { imp: Flavored::Blocking(r) })
}

fn green_read_dir(path: &Path) -> io::Result<ReadDir> {
    rt::fs::read_dir(path).map(|r| ReadDir { imp: Flavored::Green(r) })
}

crate::slot! {
    /// `fs.write`.
    pub(crate) static WRITE: fn(&Path, &[u8]) -> io::Result<()> = ("write", std_write, green_write);
    /// `fs.set_permissions`.
    pub(crate) static SET_PERMISSIONS: fn(&Path, Permissions) -> io::Result<()> =
        ("set_permissions", std_set_permissions, green_set_permissions);
    /// `fs.read_dir`.
    pub(crate) static READ_DIR: fn(&Path) -> io::Result<ReadDir> = ("read_dir", std_read_dir, green_read_dir);
}

crate::patchable_module!(
    builtin,
    name = "fs",
    items = [
        READ,
        READ_TO_STRING,
        METADATA,
        SYMLINK_METADATA,
        CREATE_DIR,
        CREATE_DIR_ALL,
        REMOVE_FILE,
        REMOVE_DIR,
        REMOVE_DIR_ALL,
        CANONICALIZE,
        READ_LINK,
        EXISTS,
        RENAME,
        COPY,
        HARD_LINK,
        WRITE,
        SET_PERMISSIONS,
        READ_DIR,
        FILE,
        DIR_BUILDER
    ]
);

/// As [`std::fs::write`]: on the calling thread before `patch_all()`, on
/// the blocking pool after it (copying `contents` at most
/// `greenpatch_runtime::fs::MAX_CHUNK` at a time).
///
/// # Errors
///
/// As `std::fs::write`.
///
/// # Example
///
/// ```
/// let p = std::env::temp_dir().join(format!("gp-doc-write-{}", std::process::id()));
/// greenpatch::fs::write(&p, b"hi").unwrap();
/// assert_eq!(greenpatch::fs::read(&p).unwrap(), b"hi");
/// greenpatch::fs::remove_file(&p).unwrap();
/// ```
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    (WRITE.get())(path.as_ref(), contents.as_ref())
}

/// As [`std::fs::set_permissions`], on the pool once patched.
///
/// # Errors
///
/// As `std::fs::set_permissions`.
///
/// # Example
///
/// ```
/// let p = std::env::temp_dir().join(format!("gp-doc-perm-{}", std::process::id()));
/// greenpatch::fs::write(&p, b"x").unwrap();
/// let mut perm = greenpatch::fs::metadata(&p).unwrap().permissions();
/// perm.set_readonly(true);
/// greenpatch::fs::set_permissions(&p, perm).unwrap();
/// assert!(greenpatch::fs::metadata(&p).unwrap().permissions().readonly());
/// greenpatch::fs::remove_file(&p).unwrap();
/// ```
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    (SET_PERMISSIONS.get())(path.as_ref(), perm)
}

/// As [`std::fs::read_dir`]. Once patched, the directory is read on the
/// pool in one trip and the iterator hands the entries back without
/// further I/O.
///
/// # Errors
///
/// As `std::fs::read_dir`.
///
/// # Example
///
/// ```
/// let n = greenpatch::fs::read_dir(".").unwrap().filter_map(Result::ok).count();
/// assert!(n > 0);
/// ```
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    (READ_DIR.get())(path.as_ref())
}

/// The entries of a directory, as [`std::fs::ReadDir`].
///
/// ```
/// for entry in greenpatch::fs::read_dir(".").unwrap() {
///     let _name = entry.unwrap().file_name();
/// }
/// ```
#[derive(Debug)]
pub struct ReadDir {
    imp: Flavored<std::fs::ReadDir, rt::fs::ReadDir>,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        both!(&mut self.imp, r => r.next())
    }
}

/// Options for opening a file, as [`std::fs::OpenOptions`]; [`open`]
/// decides the [`File`]'s flavor.
///
/// [`open`]: OpenOptions::open
///
/// ```
/// let p = std::env::temp_dir().join(format!("gp-doc-oo-{}", std::process::id()));
/// let f = greenpatch::fs::OpenOptions::new().write(true).create(true).open(&p).unwrap();
/// drop(f);
/// greenpatch::fs::remove_file(&p).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

macro_rules! open_flags {
    ($($name:ident),+) => {$(
        #[doc = concat!("As `std::fs::OpenOptions::", stringify!($name), "`.")]
        ///
        /// ```
        #[doc = concat!("let _ = greenpatch::fs::OpenOptions::new().", stringify!($name), "(true);")]
        /// ```
        pub fn $name(&mut self, on: bool) -> &mut OpenOptions {
            self.0.$name(on);
            self
        }
    )+};
}

impl OpenOptions {
    /// No access mode set, as `std::fs::OpenOptions::new`.
    ///
    /// ```
    /// let _ = greenpatch::fs::OpenOptions::new();
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    open_flags!(read, write, append, truncate, create, create_new);

    /// The permission bits of a created file (`std::os::unix::fs::OpenOptionsExt::mode`).
    ///
    /// ```
    /// let _ = greenpatch::fs::OpenOptions::new().mode(0o600);
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Extra `open(2)` flags (`std::os::unix::fs::OpenOptionsExt::custom_flags`).
    ///
    /// ```
    /// let _ = greenpatch::fs::OpenOptions::new().custom_flags(libc::O_NOFOLLOW);
    /// ```
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }

    /// Opens `path`: on the calling thread, as std, before `fs` is
    /// patched (a blocking [`File`]); on the blocking pool after it (a
    /// green one).
    ///
    /// # Errors
    ///
    /// As `std::fs::OpenOptions::open`.
    ///
    /// ```
    /// assert!(greenpatch::fs::OpenOptions::new().read(true).open("/nonexistent/gp").is_err());
    /// ```
    #[track_caller]
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let flavor = (FILE.get())();
        self.open_as(flavor, path.as_ref())
    }

    #[track_caller]
    fn open_as(&self, flavor: Flavor, path: &Path) -> io::Result<File> {
        let site = Location::caller();
        let imp = match flavor {
            Flavor::Blocking => Flavored::Blocking(self.0.open(path)?),
            Flavor::Green => {
                let (opts, path) = (self.0.clone(), path.to_path_buf());
                Flavored::Green(rt::fs::File::from(rt::blocking::run(move || opts.open(path))?))
            }
        };
        Ok(File { imp, site })
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

/// An open file, as [`std::fs::File`]: std's before `patch_all()`, one
/// whose reads, writes and syncs run on the blocking pool after it (it
/// keeps the flavor it was opened with; see [`File::flavor`]).
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// let p = std::env::temp_dir().join(format!("gp-doc-ffile-{}", std::process::id()));
/// let mut f = greenpatch::fs::File::options().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
/// f.write_all(b"hello").unwrap();
/// f.seek(SeekFrom::Start(1)).unwrap();
/// let mut s = String::new();
/// f.read_to_string(&mut s).unwrap();
/// assert_eq!(s, "ello");
/// greenpatch::fs::remove_file(&p).unwrap();
/// ```
#[derive(Debug)]
pub struct File {
    imp: Flavored<std::fs::File, rt::fs::File>,
    /// Where it was opened (named in the stale-object report).
    site: &'static Location<'static>,
}

impl File {
    /// Opens a file read-only, as `std::fs::File::open`.
    ///
    /// # Errors
    ///
    /// As `std::fs::File::open`.
    ///
    /// ```
    /// assert!(greenpatch::fs::File::open("/nonexistent/gp").is_err());
    /// ```
    #[track_caller]
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates or truncates a file for writing, as `std::fs::File::create`.
    ///
    /// # Errors
    ///
    /// As `std::fs::File::create`.
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-fcreate-{}", std::process::id()));
    /// let _f = greenpatch::fs::File::create(&p).unwrap();
    /// greenpatch::fs::remove_file(&p).unwrap();
    /// ```
    #[track_caller]
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    /// Creates a new file, failing if it exists, as `std::fs::File::create_new`.
    ///
    /// # Errors
    ///
    /// As `std::fs::File::create_new` (`AlreadyExists`, …).
    ///
    /// ```
    /// assert!(greenpatch::fs::File::create_new("/").is_err());
    /// ```
    #[track_caller]
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create_new(true).open(path)
    }

    /// Opens `path` with an explicit flavor (e.g. a green file before
    /// patching, or a blocking one for a file known to be in memory).
    ///
    /// # Errors
    ///
    /// As `std::fs::File::open`.
    ///
    /// ```
    /// use greenpatch::{fs::File, Flavor};
    /// let f = File::open_with_flavor(Flavor::Green, "Cargo.toml").unwrap();
    /// assert_eq!(f.flavor(), Flavor::Green);
    /// ```
    #[track_caller]
    pub fn open_with_flavor<P: AsRef<Path>>(flavor: Flavor, path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open_as(flavor, path.as_ref())
    }

    /// A new [`OpenOptions`], as `std::fs::File::options`.
    ///
    /// ```
    /// let _ = greenpatch::fs::File::options().read(true);
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Which implementation this file has.
    ///
    /// ```
    /// let f = greenpatch::fs::File::open("Cargo.toml").unwrap();
    /// assert_eq!(f.flavor(), greenpatch::Flavor::Blocking); // not patched
    /// ```
    pub fn flavor(&self) -> Flavor {
        self.imp.flavor()
    }

    /// As `std::fs::File::sync_all` (on the pool when green).
    ///
    /// # Errors
    ///
    /// As `std::fs::File::sync_all`.
    ///
    /// ```
    /// greenpatch::fs::File::open("Cargo.toml").unwrap().sync_all().unwrap();
    /// ```
    pub fn sync_all(&self) -> io::Result<()> {
        both!(&self.imp, f => f.sync_all())
    }

    /// As `std::fs::File::sync_data` (on the pool when green).
    ///
    /// # Errors
    ///
    /// As `std::fs::File::sync_data`.
    ///
    /// ```
    /// greenpatch::fs::File::open("Cargo.toml").unwrap().sync_data().unwrap();
    /// ```
    pub fn sync_data(&self) -> io::Result<()> {
        both!(&self.imp, f => f.sync_data())
    }

    /// As `std::fs::File::set_len` (on the pool when green).
    ///
    /// # Errors
    ///
    /// As `std::fs::File::set_len`.
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-setlen-{}", std::process::id()));
    /// let f = greenpatch::fs::File::create(&p).unwrap();
    /// f.set_len(10).unwrap();
    /// assert_eq!(f.metadata().unwrap().len(), 10);
    /// greenpatch::fs::remove_file(&p).unwrap();
    /// ```
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        both!(&self.imp, f => f.set_len(size))
    }

    /// As `std::fs::File::metadata` (on the pool when green).
    ///
    /// # Errors
    ///
    /// As `std::fs::File::metadata`.
    ///
    /// ```
    /// assert!(greenpatch::fs::File::open("Cargo.toml").unwrap().metadata().unwrap().is_file());
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        both!(&self.imp, f => f.metadata())
    }

    /// As `std::fs::File::set_permissions` (on the pool when green).
    ///
    /// # Errors
    ///
    /// As `std::fs::File::set_permissions`.
    ///
    /// ```
    /// let f = greenpatch::fs::File::open("Cargo.toml").unwrap();
    /// let perm = f.metadata().unwrap().permissions();
    /// f.set_permissions(perm).unwrap();
    /// ```
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        both!(&self.imp, f => f.set_permissions(perm))
    }

    /// A second handle to the same open file, with the same flavor.
    ///
    /// # Errors
    ///
    /// As `std::fs::File::try_clone`.
    ///
    /// ```
    /// let f = greenpatch::fs::File::open("Cargo.toml").unwrap();
    /// assert_eq!(f.try_clone().unwrap().flavor(), f.flavor());
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        Ok(File { imp: self.imp.as_ref().try_map(|f| f.try_clone(), |f| f.try_clone())?, site: self.site })
    }
}

impl File {
    /// Reports a blocking file used from a green thread after patching.
    #[inline]
    fn check_stale(&self) {
        if let Flavored::Blocking(_) = self.imp {
            crate::stale::check(FILE.is_patched(), "fs::File", self.site, "opened before patch_all()");
        }
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check_stale();
        both!(self.imp.as_ref(), mut f => f.read(buf))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.check_stale();
        both!(self.imp.as_ref(), mut f => f.read_to_end(buf))
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_stale();
        both!(self.imp.as_ref(), mut f => f.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        both!(self.imp.as_ref(), mut f => f.flush())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        both!(self.imp.as_ref(), mut f => f.seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.imp.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.imp.as_raw_fd()
    }
}

impl From<File> for std::fs::File {
    fn from(f: File) -> std::fs::File {
        match f.imp {
            Flavored::Blocking(f) => f,
            Flavored::Green(f) => f.into(),
        }
    }
}

/// Builds directories, as [`std::fs::DirBuilder`]: on the calling thread
/// before `patch_all()`, on the pool after it.
///
/// ```
/// let d = std::env::temp_dir().join(format!("gp-doc-db-{}", std::process::id())).join("a/b");
/// greenpatch::fs::DirBuilder::new().recursive(true).create(&d).unwrap();
/// assert!(greenpatch::fs::metadata(&d).unwrap().is_dir());
/// greenpatch::fs::remove_dir_all(d.parent().unwrap().parent().unwrap()).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct DirBuilder {
    recursive: bool,
    mode: Option<u32>,
}

impl DirBuilder {
    /// A builder for one non-recursive directory with default permissions.
    ///
    /// ```
    /// let _ = greenpatch::fs::DirBuilder::new();
    /// ```
    pub fn new() -> DirBuilder {
        DirBuilder::default()
    }

    /// Creates missing parents too, as `std::fs::DirBuilder::recursive`.
    ///
    /// ```
    /// let _ = greenpatch::fs::DirBuilder::new().recursive(true);
    /// ```
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.recursive = recursive;
        self
    }

    /// Permission bits (`std::os::unix::fs::DirBuilderExt::mode`).
    ///
    /// ```
    /// let _ = greenpatch::fs::DirBuilder::new().mode(0o700);
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.mode = Some(mode);
        self
    }

    fn std(&self) -> std::fs::DirBuilder {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(self.recursive);
        if let Some(mode) = self.mode {
            std::os::unix::fs::DirBuilderExt::mode(&mut b, mode);
        }
        b
    }

    /// Creates `path`.
    ///
    /// # Errors
    ///
    /// As `std::fs::DirBuilder::create`.
    ///
    /// ```
    /// assert!(greenpatch::fs::DirBuilder::new().create("/").is_err());
    /// ```
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let b = self.std();
        match (DIR_BUILDER.get())() {
            Flavor::Blocking => b.create(path),
            Flavor::Green => {
                let path = path.as_ref().to_path_buf();
                rt::blocking::run(move || b.create(path))
            }
        }
    }
}
