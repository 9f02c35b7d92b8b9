//! Decoding of BPMN bytes to UTF-8 text, honouring the encoding declared in the XML prolog.

/// The text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The prolog names an encoding this parser does not read.
    #[error("unsupported encoding '{0}'")]
    Unsupported(String),
    /// The bytes are not valid in the declared encoding.
    #[error("the file is not valid {encoding}: invalid byte at offset {offset}")]
    Invalid {
        /// The encoding tried.
        encoding: &'static str,
        /// Byte offset of the first bad byte.
        offset: usize,
    },
}

/// Windows-1252 code points for bytes 0x80..=0x9F (0 where undefined: kept as C1 controls).
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0, 0,
    0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// Reads `encoding="..."` from the XML declaration, if any.
pub fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let head = String::from_utf8_lossy(head);
    let decl_end = head.find("?>")?;
    let decl = &head[..decl_end];
    if !decl.trim_start_matches('\u{feff}').trim_start().starts_with("<?xml") {
        return None;
    }
    let idx = decl.find("encoding")?;
    let rest = decl[idx + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let inner = &rest[1..];
    let end = inner.find(quote)?;
    Some(inner[..end].to_string())
}

/// Decodes `bytes` to a UTF-8 string, using the declared encoding (UTF-8 when none).
/// A UTF-8 byte-order mark is dropped.
pub fn decode(bytes: &[u8]) -> Result<String, DecodeError> {
    // UTF-16 is recognised by its byte-order mark, whatever the prolog says
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return decode_utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return decode_utf16(rest, u16::from_be_bytes);
    }
    let enc = declared_encoding(bytes).map(|e| e.to_ascii_lowercase());
    match enc.as_deref() {
        None | Some("utf-8") | Some("utf8") | Some("us-ascii") | Some("ascii") => {
            let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
            String::from_utf8(b.to_vec()).map_err(|e| DecodeError::Invalid {
                encoding: "UTF-8",
                offset: e.utf8_error().valid_up_to(),
            })
        }
        Some("iso-8859-1") | Some("iso8859-1") | Some("latin1") | Some("latin-1") | Some("l1") | Some("iso_8859-1") => {
            Ok(bytes.iter().map(|&b| char::from(b)).collect())
        }
        Some("windows-1252") | Some("cp1252") => Ok(bytes
            .iter()
            .map(|&b| {
                if (0x80..=0x9F).contains(&b) {
                    let cp = CP1252_HIGH[usize::from(b - 0x80)];
                    if cp == 0 {
                        char::from(b)
                    } else {
                        char::from_u32(u32::from(cp)).unwrap_or(char::REPLACEMENT_CHARACTER)
                    }
                } else {
                    char::from(b)
                }
            })
            .collect()),
        Some(other) => Err(DecodeError::Unsupported(other.to_string())),
    }
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, DecodeError> {
    if bytes.len() % 2 != 0 {
        return Err(DecodeError::Invalid {
            encoding: "UTF-16",
            offset: bytes.len(),
        });
    }
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    let mut out = String::with_capacity(bytes.len() / 2);
    for (i, ch) in char::decode_utf16(units).enumerate() {
        match ch {
            Ok(c) => out.push(c),
            Err(_) => {
                return Err(DecodeError::Invalid {
                    encoding: "UTF-16",
                    offset: 2 + i * 2,
                })
            }
        }
    }
    // the prolog still says UTF-16; the text is UTF-8 now
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_decoded() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a name=\"caf\xE9\"/>";
        let s = decode(bytes).unwrap();
        assert!(s.contains("café"));
    }

    #[test]
    fn cp1252_euro_is_decoded() {
        let bytes = b"<?xml version='1.0' encoding='windows-1252'?><a>\x80</a>";
        assert!(decode(bytes).unwrap().contains('€'));
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_decoded() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>é</a>";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&le).unwrap(), text);
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode(&be).unwrap(), text);
    }

    #[test]
    fn utf8_without_declaration() {
        assert_eq!(decode("<a>é</a>".as_bytes()).unwrap(), "<a>é</a>");
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert!(matches!(decode(b"<a>\xFF</a>"), Err(DecodeError::Invalid { .. })));
    }

    #[test]
    fn unknown_encoding_is_an_error() {
        assert!(matches!(
            decode(b"<?xml version='1.0' encoding='EBCDIC'?><a/>"),
            Err(DecodeError::Unsupported(_))
        ));
    }
}
