//! The Arm semihosting calls the firmware uses: console text, host files, the command
//! line and exit codes. QEMU serves them with `-semihosting-config enable=on,target=native`
//! (host paths are relative to QEMU's working directory).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};
use cortex_m_semihosting::{nr, syscall1};

/// `SYS_EXIT_EXTENDED`: exit with a code (QEMU passes it to its own `exit`).
const SYS_EXIT_EXTENDED: usize = 0x20;
/// `ADP_Stopped_ApplicationExit`: the program ended normally.
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
/// No handle opened yet.
const UNOPENED: usize = usize::MAX;

static STDOUT: AtomicUsize = AtomicUsize::new(UNOPENED);
static STDERR: AtomicUsize = AtomicUsize::new(UNOPENED);

/// A semihosting call with a parameter block.
fn call(op: usize, block: &mut [usize]) -> isize {
    // SAFETY: `op` is a semihosting operation whose parameter block is `block` (each caller
    // passes the block layout the Arm semihosting specification gives for `op`, with
    // pointers into live buffers of the stated lengths). The host may write into `block`
    // (SYS_GET_CMDLINE does), which is why it is `&mut`.
    unsafe { syscall1(op, block.as_mut_ptr() as usize) as isize }
}

/// A host file handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File(usize);

/// Why a semihosting file operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The path is longer than the firmware's path buffer.
    PathTooLong,
    /// The host refused to open the file (the host's `errno`).
    Open { errno: isize },
    /// The file is larger than the buffer it is read into.
    TooLarge { size: usize, capacity: usize },
    /// A read or write stopped short.
    Short { done: usize, wanted: usize },
    /// The host did not report the file's length.
    Length,
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IoError::PathTooLong => f.write_str("path too long"),
            IoError::Open { errno } => write!(f, "cannot open (host errno {errno})"),
            IoError::TooLarge { size, capacity } => {
                write!(f, "file of {size} bytes does not fit in {capacity} bytes")
            }
            IoError::Short { done, wanted } => {
                write!(f, "only {done} of {wanted} bytes transferred")
            }
            IoError::Length => f.write_str("the host did not give the file's length"),
        }
    }
}

/// `fopen` modes.
#[derive(Clone, Copy)]
pub enum Mode {
    ReadBinary = nr::open::R_BINARY as isize,
    WriteBinary = nr::open::W_TRUNC_BINARY as isize,
    WriteText = nr::open::W_TRUNC as isize,
    AppendText = nr::open::W_APPEND as isize,
}

/// `SYS_OPEN`. `":tt"` is the console.
pub fn open(path: &str, mode: Mode) -> Result<File, IoError> {
    let mut buf = [0u8; 256];
    let bytes = path.as_bytes();
    if bytes.len() >= buf.len() {
        return Err(IoError::PathTooLong);
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    let r = call(
        nr::OPEN,
        &mut [buf.as_ptr() as usize, mode as usize, bytes.len()],
    );
    if r < 0 {
        Err(IoError::Open { errno: errno() })
    } else {
        Ok(File(r as usize))
    }
}

/// `SYS_ERRNO`.
pub fn errno() -> isize {
    // SAFETY: SYS_ERRNO takes no argument (r1 must be 0).
    unsafe { syscall1(nr::ERRNO, 0) as isize }
}

impl File {
    /// `SYS_FLEN`.
    pub fn length(self) -> Result<usize, IoError> {
        let r = call(nr::FLEN, &mut [self.0]);
        usize::try_from(r).map_err(|_| IoError::Length)
    }

    /// `SYS_READ` until `buf` is full or the file ends; returns the bytes read.
    pub fn read(self, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            let wanted = rest.len();
            // SYS_READ returns the number of bytes *not* read.
            let left = call(nr::READ, &mut [self.0, rest.as_mut_ptr() as usize, wanted]);
            let read = wanted.saturating_sub(left.max(0) as usize);
            if read == 0 {
                break;
            }
            done += read;
        }
        done
    }

    /// `SYS_WRITE` of all of `bytes`.
    pub fn write_all(self, bytes: &[u8]) -> Result<(), IoError> {
        let mut done = 0;
        while done < bytes.len() {
            let rest = &bytes[done..];
            let left = call(nr::WRITE, &mut [self.0, rest.as_ptr() as usize, rest.len()]);
            let written = rest.len().saturating_sub(left.max(0) as usize);
            if written == 0 {
                return Err(IoError::Short {
                    done,
                    wanted: bytes.len(),
                });
            }
            done += written;
        }
        Ok(())
    }

    /// `SYS_CLOSE`.
    pub fn close(self) {
        call(nr::CLOSE, &mut [self.0]);
    }
}

/// Reads a whole host file into `buf`; returns its length.
pub fn read_file(path: &str, buf: &mut [u8]) -> Result<usize, IoError> {
    let file = open(path, Mode::ReadBinary)?;
    let result = (|| {
        let size = file.length()?;
        if size > buf.len() {
            return Err(IoError::TooLarge {
                size,
                capacity: buf.len(),
            });
        }
        let read = file.read(&mut buf[..size]);
        if read != size {
            return Err(IoError::Short {
                done: read,
                wanted: size,
            });
        }
        Ok(size)
    })();
    file.close();
    result
}

/// Writes `bytes` to a host file (created or truncated).
pub fn write_file(path: &str, bytes: &[u8]) -> Result<(), IoError> {
    let file = open(path, Mode::WriteBinary)?;
    let result = file.write_all(bytes);
    file.close();
    result
}

/// `SYS_GET_CMDLINE`: the command line QEMU gives the program (`-append`, or the
/// `arg=` items of `-semihosting-config`), as text in `buf`.
pub fn command_line(buf: &mut [u8]) -> Option<&str> {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    if call(nr::GET_CMDLINE, &mut block) != 0 {
        return None;
    }
    let len = block[1].min(buf.len());
    core::str::from_utf8(&buf[..len]).ok()
}

/// Console handle, opened once.
fn console(cache: &AtomicUsize, mode: Mode) -> Option<File> {
    let fd = cache.load(Ordering::Relaxed);
    if fd != UNOPENED {
        return Some(File(fd));
    }
    let file = open(":tt", mode).ok()?;
    cache.store(file.0, Ordering::Relaxed);
    Some(file)
}

/// Collects a line and sends it in few `SYS_WRITE` calls.
struct LineWriter {
    file: File,
    buf: [u8; 128],
    len: usize,
}

impl LineWriter {
    fn flush(&mut self) {
        if self.len > 0 {
            let _ = self.file.write_all(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Write for LineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

fn line_to(file: Option<File>, args: fmt::Arguments<'_>) {
    if let Some(file) = file {
        let mut w = LineWriter {
            file,
            buf: [0; 128],
            len: 0,
        };
        let _ = w.write_fmt(args);
        let _ = w.write_str("\n");
        w.flush();
    }
}

/// Prints a line on the host's standard output.
pub fn print_line(args: fmt::Arguments<'_>) {
    line_to(console(&STDOUT, Mode::WriteText), args);
}

/// Prints a line on the host's standard error.
pub fn eprint_line(args: fmt::Arguments<'_>) {
    line_to(console(&STDERR, Mode::AppendText), args);
}

/// Ends the program; QEMU exits with `code` (`SYS_EXIT_EXTENDED`).
pub fn exit(code: i32) -> ! {
    loop {
        call(
            SYS_EXIT_EXTENDED,
            &mut [ADP_STOPPED_APPLICATION_EXIT, code as u32 as usize],
        );
    }
}
