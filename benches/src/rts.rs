//! How each side's runtime is built, in one place so that every workload
//! compares the same configurations: tokio `current_thread`, tokio
//! `multi_thread` with as many workers as greenpatch has hubs, and
//! greenpatch either on the calling thread's lazy hub or as a multi-hub
//! [`greenpatch_runtime::Runtime`].

/// A tokio `current_thread` runtime with I/O and time enabled.
pub fn tokio_current() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio current_thread runtime")
}

/// A tokio `multi_thread` runtime with `workers` worker threads.
pub fn tokio_multi(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio multi_thread runtime")
}

/// A greenpatch runtime with `hubs` hub threads.
pub fn greenpatch(hubs: usize) -> greenpatch_runtime::Runtime {
    greenpatch_runtime::Runtime::builder().hubs(hubs).build().expect("greenpatch runtime")
}

/// A tokio `multi_thread` runtime whose threads (workers and blocking pool)
/// are pinned to `cpu`, when given.
pub fn tokio_multi_on(workers: usize, cpu: Option<usize>) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(workers).enable_all();
    if let Some(cpu) = cpu {
        b.on_thread_start(move || {
            pin_current_thread(cpu);
        });
    }
    b.build().expect("tokio multi_thread runtime")
}

/// Where the single-threaded servers and the client process run.
///
/// On a machine with two or more usable CPUs, every single-thread server
/// (greenpatch's hub, tokio's thread(s), the mio floor) is pinned to the
/// first usable CPU and the client process to the last. Unpinned, the
/// scheduler sometimes puts both on one CPU and sometimes not, and the
/// one-connection latency flips between two modes run to run. Multi-thread
/// servers are left unpinned (and so is their client).
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// CPU of single-thread servers.
    pub server: Option<usize>,
    /// CPU of the client process.
    pub client: Option<usize>,
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is plain data for which all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is a valid, writable
    // `cpu_set_t` of exactly the size passed.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `i` is below CPU_SETSIZE, the capacity of `set`.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

/// The placement used by the TCP and HTTP workloads.
pub fn placement() -> Placement {
    let cpus = allowed_cpus();
    match (cpus.first(), cpus.last()) {
        (Some(&a), Some(&b)) if a != b => Placement { server: Some(a), client: Some(b) },
        _ => Placement { server: None, client: None },
    }
}

/// Pins the calling OS thread to `cpu`; `false` if that is not possible.
pub fn pin_current_thread(cpu: usize) -> bool {
    if cpu >= libc::CPU_SETSIZE as usize {
        return false;
    }
    // SAFETY: `cpu_set_t` is plain data for which all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE, the capacity of `set` (checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is a valid `cpu_set_t` of
    // exactly the size passed.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 }
}
