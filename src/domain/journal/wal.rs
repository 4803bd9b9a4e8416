//! Reads a journal's write-ahead log before SQLite does: SQLite silently ignores every frame
//! from the first whose checksum fails, so one damaged byte in the log would make the journal
//! forget committed payouts while it still looks healthy.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;
/// A log being rewritten by another process while it is read can look damaged for a moment.
const READS: usize = 3;

fn wal_path(journal: &Path) -> PathBuf {
    let mut p = journal.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

/// Refuses a log in which committed transactions would be dropped: a damaged header before
/// frames, or a frame that fails its checksum followed by a commit of the same log. A
/// damaged frame at the very end is the last write of a process that was killed (never
/// committed) and is what SQLite is made to drop; so are the uncommitted frames a rolled
/// back transaction leaves beyond the log's end.
pub(super) fn check_wal(journal: &Path) -> Result<(), String> {
    let path = wal_path(journal);
    let mut last = Ok(());
    for attempt in 0..READS {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        last = match File::open(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => Err(format!(
                "its write-ahead log {} cannot be read: {e}",
                path.display()
            )),
            Ok(f) => scan(BufReader::new(f)).map_err(|why| {
                format!(
                    "its write-ahead log {} is damaged ({why}): SQLite would silently drop the \
                     payouts recorded after the damage",
                    path.display()
                )
            }),
        };
        if last.is_ok() {
            return Ok(());
        }
    }
    last
}

/// SQLite's log checksum over `data`, continuing from `sum`.
fn checksum(data: &[u8], big_endian: bool, sum: (u32, u32)) -> (u32, u32) {
    let (mut s0, mut s1) = sum;
    for pair in data.chunks_exact(8) {
        let word = |b: &[u8]| {
            let w = [b[0], b[1], b[2], b[3]];
            if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        s0 = s0.wrapping_add(word(&pair[..4]).wrapping_add(s1));
        s1 = s1.wrapping_add(word(&pair[4..]).wrapping_add(s0));
    }
    (s0, s1)
}

fn be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads as much as there is, up to `buf.len()`; how many bytes were read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn scan(mut r: impl Read) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let mut header = [0u8; HEADER];
    if fill(&mut r, &mut header).map_err(io)? < HEADER {
        // An empty or cut-off header holds no committed frame.
        return Ok(());
    }
    let magic = be(&header, 0);
    let page_size = match be(&header, 8) {
        1 => 65_536,
        n => n as usize,
    };
    let header_ok = matches!(magic, 0x377f_0682 | 0x377f_0683)
        && page_size.is_power_of_two()
        && (512..=65_536).contains(&page_size);
    let big_endian = magic & 1 == 1;
    let mut sum = checksum(&header[..24], big_endian, (0, 0));
    let header_ok = header_ok && sum == (be(&header, 24), be(&header, 28));
    let salts = (be(&header, 16), be(&header, 20));
    if !header_ok {
        // Without a sound header SQLite reads none of the log: any frame after it is lost.
        let mut probe = [0u8; FRAME_HEADER + 512];
        return if fill(&mut r, &mut probe).map_err(io)? < probe.len() {
            Ok(())
        } else {
            Err("its header fails its checksum".to_owned())
        };
    }
    let mut frame = vec![0u8; FRAME_HEADER + page_size];
    let mut broken_at: Option<u64> = None;
    let mut index = 0u64;
    loop {
        if fill(&mut r, &mut frame).map_err(io)? < frame.len() {
            return Ok(());
        }
        index += 1;
        let same_log = (be(&frame, 8), be(&frame, 12)) == salts;
        if let Some(first) = broken_at {
            // Only a later commit proves a committed transaction was lost: frames a rolled
            // back transaction left behind carry this log's salts but never a commit mark.
            if same_log && be(&frame, 4) != 0 {
                return Err(format!(
                    "frame {first} fails its checksum, and a transaction committed at frame \
                     {index} of the same log follows it"
                ));
            }
            continue;
        }
        let next = checksum(
            &frame[FRAME_HEADER..],
            big_endian,
            checksum(&frame[..8], big_endian, sum),
        );
        if same_log && next == (be(&frame, 16), be(&frame, 20)) {
            sum = next;
        } else {
            broken_at = Some(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of `frames` frames of one page size, every checksum right.
    fn log(frames: usize) -> Vec<u8> {
        let page = 512usize;
        let mut out = Vec::new();
        let mut h = [0u8; HEADER];
        h[..4].copy_from_slice(&0x377f_0682u32.to_be_bytes());
        h[4..8].copy_from_slice(&3_007_000u32.to_be_bytes());
        h[8..12].copy_from_slice(&(page as u32).to_be_bytes());
        h[16..20].copy_from_slice(&11u32.to_be_bytes());
        h[20..24].copy_from_slice(&22u32.to_be_bytes());
        let mut sum = checksum(&h[..24], false, (0, 0));
        h[24..28].copy_from_slice(&sum.0.to_be_bytes());
        h[28..32].copy_from_slice(&sum.1.to_be_bytes());
        out.extend_from_slice(&h);
        for i in 0..frames {
            let mut f = vec![0u8; FRAME_HEADER + page];
            f[..4].copy_from_slice(&(i as u32 + 1).to_be_bytes());
            let commit = if i + 1 == frames { 5u32 } else { 0 };
            f[4..8].copy_from_slice(&commit.to_be_bytes());
            f[8..12].copy_from_slice(&11u32.to_be_bytes());
            f[12..16].copy_from_slice(&22u32.to_be_bytes());
            for (j, b) in f[FRAME_HEADER..].iter_mut().enumerate() {
                *b = (i * 7 + j) as u8;
            }
            sum = checksum(&f[FRAME_HEADER..], false, checksum(&f[..8], false, sum));
            f[16..20].copy_from_slice(&sum.0.to_be_bytes());
            f[20..24].copy_from_slice(&sum.1.to_be_bytes());
            out.extend_from_slice(&f);
        }
        out
    }

    #[test]
    fn adv_a_flipped_byte_inside_the_log_is_damage_a_torn_last_frame_is_not() {
        let good = log(4);
        assert_eq!(scan(&good[..]), Ok(()));
        // The first frame's page damaged: frames 2 to 4 would be dropped silently.
        let mut flipped = good.clone();
        flipped[HEADER + FRAME_HEADER + 100] ^= 0xff;
        let e = scan(&flipped[..]).unwrap_err();
        assert!(
            e.contains("frame 1 fails") && e.contains("at frame 4"),
            "{e}"
        );
        // The last frame half written by a killed process: dropped, as SQLite means to.
        let mut torn = good.clone();
        let last = torn.len() - 10;
        torn[last] ^= 0xff;
        assert_eq!(scan(&torn[..]), Ok(()));
        assert_eq!(scan(&good[..good.len() - 100]), Ok(()));
        // What a rolled back transaction leaves beyond the end: this log's salts, no commit.
        let mut leftover = good.clone();
        let frame = FRAME_HEADER + 512;
        leftover.extend_from_slice(&good[HEADER + frame..HEADER + 2 * frame]);
        leftover.extend_from_slice(&good[HEADER + frame..HEADER + 2 * frame]);
        assert_eq!(scan(&leftover[..]), Ok(()));
        // A damaged header before frames.
        let mut head = good.clone();
        head[17] ^= 0x01;
        assert!(scan(&head[..]).unwrap_err().contains("header"));
        assert_eq!(scan(&head[..HEADER]), Ok(()));
        assert_eq!(scan(&[][..]), Ok(()));
    }

    #[test]
    fn adv_a_real_log_with_a_flipped_byte_is_refused_as_damage() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("j.sqlite3");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t(x TEXT)").unwrap();
        for i in 0..5 {
            conn.execute("INSERT INTO t VALUES (?1)", [format!("payout {i}")])
                .unwrap();
        }
        // What a killed process leaves: the database and its log, never checkpointed.
        let copy = dir.path().join("copy.sqlite3");
        std::fs::copy(&db, &copy).unwrap();
        std::fs::copy(wal_path(&db), wal_path(&copy)).unwrap();
        assert_eq!(check_wal(&copy), Ok(()));
        let mut bytes = std::fs::read(wal_path(&copy)).unwrap();
        let page = be(&bytes, 8) as usize;
        bytes[HEADER + FRAME_HEADER + page / 2] ^= 0xff;
        std::fs::write(wal_path(&copy), &bytes).unwrap();
        let e = check_wal(&copy).unwrap_err();
        assert!(
            e.contains("write-ahead log") && e.contains("damaged"),
            "{e}"
        );
        // Before this check, SQLite read the damaged log as a healthy journal missing rows.
        let c = rusqlite::Connection::open(&copy).unwrap();
        let rows: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap_or(-1);
        assert!(rows < 5, "{rows}");
        drop(conn);
    }
}
