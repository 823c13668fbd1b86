//! Transfer layer, client: a received file, hashed as it is written and kept only once whole.
//! Must not import the rest of the client, the server, capture or report code.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::transfer::TransferError;
use crate::transfer::files::hex;
use crate::transfer::run::FileResult;

/// A file being received: hashed as it is written to `.<name>.part`, renamed to `<name>` by
/// `commit`, and removed if dropped before that.
pub(crate) struct PartFile {
    part: PathBuf,
    dest: PathBuf,
    file: Option<File>,
    hasher: Sha256,
}

impl PartFile {
    pub(crate) fn create(dir: &Path, name: &str) -> Result<PartFile, TransferError> {
        let part = dir.join(format!(".{name}.part"));
        let file =
            crate::created::create_partial(&part).map_err(|source| TransferError::Output {
                path: part.clone(),
                source,
            })?;
        Ok(PartFile {
            dest: dir.join(name),
            part,
            file: Some(file),
            hasher: Sha256::new(),
        })
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), TransferError> {
        self.hasher.update(data);
        let file = self
            .file
            .as_mut()
            .expect("the file stays open until commit");
        file.write_all(data)
            .map_err(|source| TransferError::Output {
                path: self.part.clone(),
                source,
            })
    }

    pub(crate) fn sha256(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    pub(crate) fn commit(mut self) -> Result<PathBuf, TransferError> {
        drop(self.file.take());
        crate::created::complete(&self.part, &self.dest).map_err(|source| {
            TransferError::Output {
                path: self.dest.clone(),
                source,
            }
        })?;
        Ok(self.dest.clone())
    }

    /// A whole body of `bytes` bytes, answered with `status`: checked against the digest
    /// expected, then kept under `name`; the file's seconds are left at 0 for its mode to fill in.
    pub(crate) fn keep(
        self,
        name: &str,
        expected: Option<&str>,
        status: u16,
        bytes: u64,
    ) -> Result<FileResult, TransferError> {
        let sha256 = self.sha256();
        let sha256_ok = expected.map(|expected| expected == sha256);
        if let (Some(false), Some(expected)) = (sha256_ok, expected) {
            return Err(TransferError::ShaMismatch {
                name: name.to_owned(),
                expected: expected.to_owned(),
                actual: sha256,
            });
        }
        let path = self.commit()?;
        Ok(FileResult {
            name: name.to_owned(),
            status,
            bytes,
            sha256,
            sha256_ok,
            seconds: 0.0,
            path,
        })
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        // After a successful commit the part file is gone and this does nothing.
        crate::created::discard(&self.part);
    }
}
