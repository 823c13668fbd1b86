//! Transfer layer: the sample files served by default, their digests, and `--files DIR`
//! listing. Must not import capture or report code.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One of the built-in sample files: its name and exact size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleFile {
    /// File name, also the last segment of its request path.
    pub name: &'static str,
    /// Size in bytes.
    pub bytes: u64,
}

/// The default transfer: a small image, a larger audio file and a small text, as on a web page.
pub const SAMPLES: [SampleFile; 3] = [
    SampleFile {
        name: "a.jpg",
        bytes: 240 * 1024,
    },
    SampleFile {
        name: "b.mp3",
        bytes: 4 * 1024 * 1024,
    },
    SampleFile {
        name: "c.txt",
        bytes: 11 * 1024,
    },
];

/// The page of the 1997 HTTP/1.1 pipelining study (Nielsen et al., "Network Performance Effects
/// of HTTP/1.1, CSS1, and PNG"): one 42 KiB page and 42 images of 125 KiB in all — 19 under
/// 1 KiB, 7 of 1–2 KiB, 6 of 2–3 KiB, the other 10 up to 40 KiB. Many small files, where a
/// connection per file costs most.
pub const PAGE_1997: [SampleFile; 43] = [
    SampleFile {
        name: "index.html",
        bytes: 42 * 1024,
    },
    SampleFile {
        name: "pic01.gif",
        bytes: 300,
    },
    SampleFile {
        name: "pic02.gif",
        bytes: 475,
    },
    SampleFile {
        name: "pic03.gif",
        bytes: 650,
    },
    SampleFile {
        name: "pic04.gif",
        bytes: 825,
    },
    SampleFile {
        name: "pic05.gif",
        bytes: 1230,
    },
    SampleFile {
        name: "pic06.gif",
        bytes: 1880,
    },
    SampleFile {
        name: "pic07.gif",
        bytes: 2700,
    },
    SampleFile {
        name: "pic08.gif",
        bytes: 6500,
    },
    SampleFile {
        name: "pic09.gif",
        bytes: 14000,
    },
    SampleFile {
        name: "pic10.gif",
        bytes: 405,
    },
    SampleFile {
        name: "pic11.gif",
        bytes: 580,
    },
    SampleFile {
        name: "pic12.gif",
        bytes: 755,
    },
    SampleFile {
        name: "pic13.gif",
        bytes: 930,
    },
    SampleFile {
        name: "pic14.gif",
        bytes: 1620,
    },
    SampleFile {
        name: "pic15.gif",
        bytes: 2400,
    },
    SampleFile {
        name: "pic16.gif",
        bytes: 4500,
    },
    SampleFile {
        name: "pic17.gif",
        bytes: 9500,
    },
    SampleFile {
        name: "pic18.gif",
        bytes: 335,
    },
    SampleFile {
        name: "pic19.gif",
        bytes: 510,
    },
    SampleFile {
        name: "pic20.gif",
        bytes: 685,
    },
    SampleFile {
        name: "pic21.gif",
        bytes: 860,
    },
    SampleFile {
        name: "pic22.gif",
        bytes: 1360,
    },
    SampleFile {
        name: "pic23.gif",
        bytes: 2100,
    },
    SampleFile {
        name: "pic24.gif",
        bytes: 2850,
    },
    SampleFile {
        name: "pic25.gif",
        bytes: 7500,
    },
    SampleFile {
        name: "pic26.gif",
        bytes: 20535,
    },
    SampleFile {
        name: "pic27.gif",
        bytes: 440,
    },
    SampleFile {
        name: "pic28.gif",
        bytes: 615,
    },
    SampleFile {
        name: "pic29.gif",
        bytes: 790,
    },
    SampleFile {
        name: "pic30.gif",
        bytes: 1100,
    },
    SampleFile {
        name: "pic31.gif",
        bytes: 1750,
    },
    SampleFile {
        name: "pic32.gif",
        bytes: 2550,
    },
    SampleFile {
        name: "pic33.gif",
        bytes: 5500,
    },
    SampleFile {
        name: "pic34.gif",
        bytes: 11000,
    },
    SampleFile {
        name: "pic35.gif",
        bytes: 370,
    },
    SampleFile {
        name: "pic36.gif",
        bytes: 545,
    },
    SampleFile {
        name: "pic37.gif",
        bytes: 720,
    },
    SampleFile {
        name: "pic38.gif",
        bytes: 895,
    },
    SampleFile {
        name: "pic39.gif",
        bytes: 1490,
    },
    SampleFile {
        name: "pic40.gif",
        bytes: 2250,
    },
    SampleFile {
        name: "pic41.gif",
        bytes: 3500,
    },
    SampleFile {
        name: "pic42.gif",
        bytes: 8500,
    },
];

/// A set of sample files synack can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleSet {
    /// a.jpg (240 KiB), b.mp3 (4 MiB), c.txt (11 KiB): what `compare` transfers without
    /// --files.
    #[value(name = "compare", alias = "default")]
    Default,
    /// The 43 files of the 1997 pipelining study's page.
    #[value(name = "page-1997")]
    Page1997,
}

impl SampleSet {
    /// The set's files, in fetch order.
    pub fn files(self) -> &'static [SampleFile] {
        match self {
            SampleSet::Default => &SAMPLES,
            SampleSet::Page1997 => &PAGE_1997,
        }
    }
}

/// Read size for hashing, large enough that syscalls do not dominate.
const HASH_BUFFER: usize = 256 * 1024;

/// A GIF89a signature and the trailer byte.
const GIF_START: &[u8] = b"GIF89a";
const GIF_END: &[u8] = b";";
/// A JFIF header: real JPEG magic so tools that sniff content see an image.
const JPEG_START: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00";
const JPEG_END: &[u8] = b"\xFF\xD9";
/// An ID3v2.4 tag header with an empty tag.
const MP3_START: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x00";

/// Deterministic, incompressible bytes: xorshift64* from a seed.
struct XorShift(u64);

impl XorShift {
    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let word = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// FNV-1a, only to give each sample its own seed; never zero, which xorshift cannot leave.
fn seed_for(name: &str) -> u64 {
    let hash = name.bytes().fold(0xCBF2_9CE4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
    });
    hash.max(1)
}

fn random_with_frame(name: &str, len: usize, start: &[u8], end: &[u8]) -> Vec<u8> {
    let mut content = vec![0u8; len];
    XorShift(seed_for(name)).fill(&mut content);
    if len >= start.len() + end.len() {
        content[..start.len()].copy_from_slice(start);
        content[len - end.len()..].copy_from_slice(end);
    }
    content
}

fn text_lines(len: usize) -> Vec<u8> {
    let mut content = Vec::with_capacity(len + 80);
    let mut line = 1;
    while content.len() < len {
        content.extend_from_slice(
            format!("synack sample line {line:05}: the quick brown fox jumps over the lazy dog\n")
                .as_bytes(),
        );
        line += 1;
    }
    content.truncate(len);
    if let Some(last) = content.last_mut() {
        *last = b'\n';
    }
    content
}

/// The exact bytes of a sample; the same on every call and every machine.
pub fn sample_content(sample: &SampleFile) -> Vec<u8> {
    let len = usize::try_from(sample.bytes).expect("sample sizes fit in memory");
    match Path::new(sample.name).extension().and_then(|e| e.to_str()) {
        Some("jpg") => random_with_frame(sample.name, len, JPEG_START, JPEG_END),
        Some("mp3") => random_with_frame(sample.name, len, MP3_START, b""),
        Some("gif") => random_with_frame(sample.name, len, GIF_START, GIF_END),
        Some("txt" | "html") => text_lines(len),
        _ => random_with_frame(sample.name, len, b"", b""),
    }
}

/// Why a set of files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteFilesError {
    /// The folder given is a regular file (or anything else that is not a folder).
    #[error("it is a file, not a folder")]
    NotAFolder,
    /// A folder above the one given is a file, so the folder cannot be made.
    #[error("{} is a file, not a folder", .0.display())]
    ParentNotAFolder(PathBuf),
    /// Anything else the system refused.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Writes the default samples into `dir` (created if missing) and returns their paths in SAMPLES
/// order.
pub fn generate_samples(dir: &Path) -> Result<Vec<PathBuf>, WriteFilesError> {
    generate_set(dir, SampleSet::Default)
}

/// Writes the files of `set` into `dir` (created if missing) and returns their paths in order.
///
/// Each file is written to a temporary file in `dir` and renamed, so a server running
/// concurrently never serves a half-written sample.
pub fn generate_set(dir: &Path, set: SampleSet) -> Result<Vec<PathBuf>, WriteFilesError> {
    use std::os::unix::fs::PermissionsExt;
    // create_dir_all on a file says only "File exists" or "Not a directory": find which one is
    // in the way, so the message can name it.
    let in_the_way = dir.ancestors().find(|a| a.exists()).filter(|a| !a.is_dir());
    if let Some(file) = in_the_way {
        return Err(if file == dir {
            WriteFilesError::NotAFolder
        } else {
            WriteFilesError::ParentNotAFolder(file.to_path_buf())
        });
    }
    fs::create_dir_all(dir)?;
    set.files()
        .iter()
        .map(|sample| {
            let path = dir.join(sample.name);
            // Temporary files are private (0600) by default; these are for any server to read
            // (nginx answers 403 for a file only its owner can read), so they get the mode of any
            // new file: 0666 less the umask.
            let mut temp = tempfile::Builder::new()
                .permissions(fs::Permissions::from_mode(0o666))
                .tempfile_in(dir)?;
            temp.write_all(&sample_content(sample))?;
            temp.persist(&path).map_err(|e| e.error)?;
            Ok::<_, WriteFilesError>(path)
        })
        .collect()
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// SHA-256 of a file's content, lowercase hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_BUFFER];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Regular files directly in `dir` (no subdirectories, no symlinks), sorted by name.
pub fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        // file_type does not follow symlinks: the server refuses links leaving its root, so
        // listing them would only produce failed requests.
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_have_their_sizes_magic_and_stable_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = generate_samples(dir.path()).expect("generate");
        assert_eq!(paths.len(), SAMPLES.len());
        for (path, sample) in paths.iter().zip(&SAMPLES) {
            assert_eq!(fs::metadata(path).expect("written").len(), sample.bytes);
        }
        let jpg = fs::read(&paths[0]).expect("read");
        assert!(jpg.starts_with(b"\xFF\xD8\xFF\xE0") && jpg.ends_with(b"\xFF\xD9"));
        assert!(fs::read(&paths[1]).expect("read").starts_with(b"ID3"));
        let txt = String::from_utf8(fs::read(&paths[2]).expect("read")).expect("text");
        assert!(txt.starts_with("synack sample line 00001") && txt.ends_with('\n'));

        let first: Vec<String> = paths
            .iter()
            .map(|p| sha256_file(p).expect("hash"))
            .collect();
        generate_samples(dir.path()).expect("regenerate");
        let second: Vec<String> = paths
            .iter()
            .map(|p| sha256_file(p).expect("hash"))
            .collect();
        assert_eq!(first, second);
        assert_ne!(first[0], first[1]);
    }

    #[test]
    fn the_1997_page_has_the_studys_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let paths = generate_set(dir.path(), SampleSet::Page1997).unwrap();
        assert_eq!(paths.len(), 43);
        assert_eq!(
            list_files(dir.path()).unwrap(),
            paths,
            "listed in fetch order"
        );
        let sizes: Vec<u64> = paths
            .iter()
            .map(|p| fs::metadata(p).unwrap().len())
            .collect();
        assert_eq!(sizes[0], 42 * 1024, "the page first");
        let images = &sizes[1..];
        assert_eq!(images.iter().sum::<u64>(), 125 * 1024);
        let within = |lo: u64, hi: u64| images.iter().filter(|&&s| s >= lo && s < hi).count();
        assert_eq!(within(0, 1024), 19);
        assert_eq!(within(1024, 2048), 7);
        assert_eq!(within(2048, 3072), 6);
        assert_eq!(within(3072, 40 * 1024 + 1), 10);
        assert!(fs::read(&paths[1]).unwrap().starts_with(b"GIF89a"));
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("abc");
        fs::write(&path, b"abc").expect("write");
        assert_eq!(
            sha256_file(&path).expect("hash"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn list_files_keeps_regular_files_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("b"), b"").expect("write");
        fs::write(dir.path().join("a"), b"").expect("write");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).expect("symlink");
        let names: Vec<_> = list_files(dir.path())
            .expect("list")
            .into_iter()
            .map(|p| p.file_name().expect("name").to_owned())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
