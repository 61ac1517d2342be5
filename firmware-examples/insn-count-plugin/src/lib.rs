//! A QEMU TCG plugin that counts the guest instructions executed between two marker
//! functions: from the first instruction of `start` to the first instruction of `end`
//! (the `start` marker's own few instructions included, the `end` marker's excluded).
//!
//! ```sh
//! qemu-system-arm … -icount shift=0 \
//!   -plugin target/release/libkiln_insn_count.so,start=0x1234,end=0x1240[,out=counts.txt]
//! ```
//!
//! `start` and `end` are the markers' addresses (ELF symbols `kiln_marker_start` and
//! `kiln_marker_end`; the Thumb bit is ignored). Each `start … end` region prints one line
//! `kiln-insn-count: region N: C instructions` on stderr (and appends it to `out`), and the
//! total is printed at exit. With `mode=insn` every instruction gets its own callback (slow,
//! obviously exact); the default counts whole translation blocks and corrects for where
//! the markers sit inside them — the two give the same numbers (`scripts/run-examples.sh
//! --check-plugin` compares them).
//!
//! With `profile=FILE` (block mode), every translation block's start address, its
//! instructions and how often it ran inside the regions are written to `FILE` at exit, one
//! block a line (`bench/profile.sh` sums them per function).
//!
//! Built against the plugin API of the QEMU it is loaded into: cargo feature
//! `plugin-api-v1` (QEMU 6–8) … `plugin-api-v4` (QEMU 9.2–10.0); see `Cargo.toml`.

use qemu_plugin_sys::{
    qemu_info_t, qemu_plugin_cb_flags, qemu_plugin_id_t, qemu_plugin_insn_vaddr,
    qemu_plugin_register_atexit_cb, qemu_plugin_register_vcpu_insn_exec_cb,
    qemu_plugin_register_vcpu_tb_exec_cb, qemu_plugin_register_vcpu_tb_trans_cb, qemu_plugin_tb,
    qemu_plugin_tb_get_insn, qemu_plugin_tb_n_insns, QEMU_PLUGIN_VERSION,
};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The plugin API version this build speaks (QEMU refuses a plugin outside its range).
#[no_mangle]
pub static qemu_plugin_version: c_int = QEMU_PLUGIN_VERSION as c_int;

struct Config {
    start: u64,
    end: u64,
    per_insn: bool,
    out: Option<String>,
    profile: Option<String>,
}

/// One translated block, for `profile`: where it starts, its instructions, its runs.
struct BlockStat {
    vaddr: u64,
    insns: u64,
    runs: AtomicU64,
}

/// Every block translated (leaked: they live as long as QEMU), for `profile`.
static BLOCKS: Mutex<Vec<&'static BlockStat>> = Mutex::new(Vec::new());
/// A region is open: `profile` counts the blocks that run.
static IN_REGION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(Default)]
struct Regions {
    /// Instruction count when the open region started.
    open: Option<u64>,
    counts: Vec<u64>,
}

static CONFIG: OnceLock<Config> = OnceLock::new();
/// Guest instructions executed so far (whole blocks are added when they start).
static EXECUTED: AtomicU64 = AtomicU64::new(0);
static REGIONS: Mutex<Regions> = Mutex::new(Regions {
    open: None,
    counts: Vec::new(),
});

/// Which marker an instruction callback is for, and where it sits in its block.
const MARKER_START: u64 = 1 << 63;
const MARKER_END: u64 = 1 << 62;

fn report(line: &str) {
    eprintln!("{line}");
    if let Some(path) = CONFIG.get().and_then(|c| c.out.as_deref()) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Called when a marker instruction executes. `udata` = marker bit | instructions in its
/// block after it (block mode; those were already added when the block started).
unsafe extern "C" fn on_marker(_vcpu: c_uint, udata: *mut c_void) {
    let udata = udata as u64;
    let after = udata & !(MARKER_START | MARKER_END);
    // Instructions executed before this one.
    let now = EXECUTED.load(Ordering::Relaxed) - after;
    let mut regions = REGIONS.lock().unwrap_or_else(|e| e.into_inner());
    IN_REGION.store(udata & MARKER_START != 0, Ordering::Relaxed);
    if udata & MARKER_START != 0 {
        regions.open = Some(now);
    } else if let Some(begin) = regions.open.take() {
        let count = now - begin;
        regions.counts.push(count);
        let n = regions.counts.len();
        drop(regions);
        report(&format!(
            "kiln-insn-count: region {n}: {count} instructions"
        ));
    }
}

/// Block mode: a block of `udata` instructions starts.
unsafe extern "C" fn on_block(_vcpu: c_uint, udata: *mut c_void) {
    EXECUTED.fetch_add(udata as u64, Ordering::Relaxed);
}

/// Block mode with `profile`: the block `udata` (a `BlockStat`) starts.
unsafe extern "C" fn on_block_profiled(_vcpu: c_uint, udata: *mut c_void) {
    // SAFETY: `udata` is a leaked `BlockStat` from `on_translate`.
    let stat = &*(udata as *const BlockStat);
    if IN_REGION.load(Ordering::Relaxed) {
        stat.runs.fetch_add(1, Ordering::Relaxed);
    }
    EXECUTED.fetch_add(stat.insns, Ordering::Relaxed);
}

/// Instruction mode: one instruction executes.
unsafe extern "C" fn on_insn(_vcpu: c_uint, _udata: *mut c_void) {
    EXECUTED.fetch_add(1, Ordering::Relaxed);
}

unsafe extern "C" fn on_translate(_id: qemu_plugin_id_t, tb: *mut qemu_plugin_tb) {
    let Some(config) = CONFIG.get() else { return };
    let n = qemu_plugin_tb_n_insns(tb);
    if !config.per_insn && config.profile.is_some() {
        let first = qemu_plugin_tb_get_insn(tb, 0);
        let stat: &'static BlockStat = Box::leak(Box::new(BlockStat {
            vaddr: qemu_plugin_insn_vaddr(first),
            insns: n as u64,
            runs: AtomicU64::new(0),
        }));
        BLOCKS.lock().unwrap_or_else(|e| e.into_inner()).push(stat);
        qemu_plugin_register_vcpu_tb_exec_cb(
            tb,
            Some(on_block_profiled),
            qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
            stat as *const BlockStat as *mut c_void,
        );
    } else if !config.per_insn {
        qemu_plugin_register_vcpu_tb_exec_cb(
            tb,
            Some(on_block),
            qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
            n as *mut c_void,
        );
    }
    for i in 0..n {
        let insn = qemu_plugin_tb_get_insn(tb, i);
        let vaddr = qemu_plugin_insn_vaddr(insn);
        let marker = if vaddr == config.start {
            MARKER_START
        } else if vaddr == config.end {
            MARKER_END
        } else {
            0
        };
        if marker != 0 {
            // In block mode the whole block was counted on entry: the marker callback
            // subtracts the instructions from this one to the block's end.
            let after = if config.per_insn { 0 } else { (n - i) as u64 };
            qemu_plugin_register_vcpu_insn_exec_cb(
                insn,
                Some(on_marker),
                qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                (marker | after) as *mut c_void,
            );
        }
        if config.per_insn {
            // Registered after the marker callback: the marker sees the count before
            // its own instruction.
            qemu_plugin_register_vcpu_insn_exec_cb(
                insn,
                Some(on_insn),
                qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                std::ptr::null_mut(),
            );
        }
    }
}

unsafe extern "C" fn on_exit(_id: qemu_plugin_id_t, _udata: *mut c_void) {
    if let Some(path) = CONFIG.get().and_then(|c| c.profile.as_deref()) {
        let blocks = BLOCKS.lock().unwrap_or_else(|e| e.into_inner());
        let lines: String = blocks
            .iter()
            .filter(|b| b.runs.load(Ordering::Relaxed) > 0)
            .map(|b| format!("{:#x} {} {}\n", b.vaddr, b.insns, b.runs.load(Ordering::Relaxed)))
            .collect();
        if let Err(e) = std::fs::write(path, lines) {
            eprintln!("kiln-insn-count: {path}: {e}");
        }
    }
    let regions = REGIONS.lock().unwrap_or_else(|e| e.into_inner());
    let open = if regions.open.is_some() {
        ", one still open"
    } else {
        ""
    };
    report(&format!(
        "kiln-insn-count: {} regions{open}; {} instructions executed in all",
        regions.counts.len(),
        EXECUTED.load(Ordering::Relaxed)
    ));
}

fn parse_address(value: &str) -> Option<u64> {
    let v = value.trim();
    let n = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => v.parse().ok()?,
    };
    Some(n & !1) // Thumb symbols have bit 0 set
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let (mut start, mut end, mut per_insn, mut out, mut profile) = (None, None, false, None, None);
    for arg in args {
        let (key, value) = arg
            .split_once('=')
            .ok_or(format!("argument '{arg}' is not key=value"))?;
        match key {
            "start" => {
                start = Some(parse_address(value).ok_or(format!("bad start address '{value}'"))?)
            }
            "end" => end = Some(parse_address(value).ok_or(format!("bad end address '{value}'"))?),
            "mode" => match value {
                "insn" => per_insn = true,
                "tb" => per_insn = false,
                _ => return Err(format!("mode must be tb or insn, not '{value}'")),
            },
            "out" => out = Some(value.to_string()),
            "profile" => profile = Some(value.to_string()),
            _ => {
                return Err(format!(
                    "unknown argument '{key}' (start, end, mode, out, profile)"
                ))
            }
        }
    }
    match (start, end) {
        (Some(start), Some(end)) if start != end => Ok(Config {
            start,
            end,
            per_insn,
            out,
            profile,
        }),
        (Some(_), Some(_)) => {
            Err("start and end are the same address (were the markers merged?)".into())
        }
        _ => Err(
            "give start=ADDR,end=ADDR (the kiln_marker_start and kiln_marker_end symbols)".into(),
        ),
    }
}

/// # Safety
/// Called by QEMU with its plugin id, a valid `info` and `argc` C strings in `argv`.
#[no_mangle]
pub unsafe extern "C" fn qemu_plugin_install(
    id: qemu_plugin_id_t,
    _info: *const qemu_info_t,
    argc: c_int,
    argv: *mut *mut c_char,
) -> c_int {
    let args: Vec<String> = (0..argc.max(0) as usize)
        .map(|i| CStr::from_ptr(*argv.add(i)).to_string_lossy().into_owned())
        .collect();
    let config = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiln-insn-count: {e}");
            return -1;
        }
    };
    if CONFIG.set(config).is_err() {
        eprintln!("kiln-insn-count: loaded twice");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, Some(on_translate));
    qemu_plugin_register_atexit_cb(id, Some(on_exit), std::ptr::null_mut());
    0
}
