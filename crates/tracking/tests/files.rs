//! Tracked file operations through `cx.fs()`: bytes, events, caps, and every bad input.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use servicetask_core::record::FileAccessKind;
use servicetask_core::{semconv, ErrorClass, TrackingConfig};
use servicetask_test_support::runtime::two_workers as rt;
use servicetask_tracking::TrackingLayer;
use support::{attr, events, load, run, temp_dir, Harness};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const MIB: usize = 1024 * 1024;

#[test]
fn reading_10_mib_reports_10_mib_and_the_neighbour_nothing() {
    let dir = temp_dir("10mib");
    let path = dir.join("big.bin");
    std::fs::write(&path, vec![7u8; 10 * MIB]).unwrap();
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let reader = h.context("reader", TrackingConfig::default());
    let idle = h.context("idle", TrackingConfig::default());
    rt().block_on(async {
        let p = path.clone();
        let a = run(&layer, &reader, move |cx| {
            let p = p.clone();
            async move {
                let data = cx.fs().read(&p).await?;
                assert_eq!(data.len(), 10 * MIB);
                Ok(())
            }
        });
        let b = run(&layer, &idle, |_cx| async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(())
        });
        let (a, b) = tokio::join!(a, b);
        a.unwrap();
        b.unwrap();
    });
    assert_eq!(load(&reader.stats().bytes_read), 10 * MIB as u64);
    assert_eq!(load(&idle.stats().bytes_read), 0);
    // The copy out of the page cache ran on the blocking pool, inside the execution's bracket.
    assert!(load(&reader.stats().cpu_ns) > 0);
    let files = reader.stats().files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file_size, Some(10 * MIB as u64));
    let span = h.end_span(&reader);
    let ev = events(&span, semconv::event::FILE);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        attr(&ev[0].attributes, semconv::FILE_PATH).unwrap().as_str(),
        path.to_string_lossy()
    );
    assert_eq!(
        attr(&ev[0].attributes, semconv::SERVICETASK_FILE_OPERATION)
            .unwrap()
            .as_str(),
        "read"
    );
    assert_eq!(
        attr(&ev[0].attributes, semconv::SERVICETASK_FILE_BYTES),
        Some(&opentelemetry::Value::I64(10 * MIB as i64))
    );
    assert!(attr(&ev[0].attributes, semconv::SERVICETASK_FILE_DURATION_US).is_some());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_operation_is_recorded_with_its_bytes() {
    let dir = temp_dir("ops");
    let h = Harness::new();
    let cx = h.context("ops", TrackingConfig::default());
    let d = dir.clone();
    rt().block_on(async move {
        let fs = cx.fs();
        fs.create_dir_all(d.join("sub")).await.unwrap();
        fs.write(d.join("sub/a.txt"), b"hello").await.unwrap();
        fs.append(d.join("sub/a.txt"), b", world").await.unwrap();
        assert_eq!(fs.read_to_string(d.join("sub/a.txt")).await.unwrap(), "hello, world");
        assert_eq!(fs.copy(d.join("sub/a.txt"), d.join("sub/b.txt")).await.unwrap(), 12);
        fs.rename(d.join("sub/b.txt"), d.join("sub/c.txt")).await.unwrap();
        assert_eq!(fs.metadata(d.join("sub/c.txt")).await.unwrap().len(), 12);
        let listing = fs.read_dir(d.join("sub")).await.unwrap();
        assert_eq!(listing, vec![d.join("sub/a.txt"), d.join("sub/c.txt")]);
        let mut w = fs.create(d.join("sub/s.txt")).await.unwrap();
        w.write_all(&[1u8; 3000]).await.unwrap();
        w.flush().await.unwrap();
        assert_eq!(w.bytes_written(), 3000);
        drop(w);
        let mut r = fs.open(d.join("sub/s.txt")).await.unwrap();
        let mut buf = Vec::new();
        r.read_to_end(&mut buf).await.unwrap();
        assert_eq!(r.bytes_read(), 3000);
        drop(r);
        fs.remove(d.join("sub/c.txt")).await.unwrap();
        fs.remove_dir_all(d.join("sub")).await.unwrap();

        let s = cx.stats();
        // read 12 (read_to_string) + 12 (copy source) + 3000 (stream)
        assert_eq!(load(&s.bytes_read), 12 + 12 + 3000);
        // write 5 + append 7 + copy target 12 + stream 3000
        assert_eq!(load(&s.bytes_written), 5 + 7 + 12 + 3000);
        let files = s.files();
        let a_write = files
            .iter()
            .find(|f| f.path.ends_with("sub/a.txt") && f.kind == FileAccessKind::Write)
            .unwrap();
        assert_eq!((a_write.ops, a_write.bytes, a_write.file_size), (2, 12, Some(12)));
        let span = h.end_span(&cx);
        let ops: Vec<String> = events(&span, semconv::event::FILE)
            .iter()
            .map(|e| {
                attr(&e.attributes, semconv::SERVICETASK_FILE_OPERATION)
                    .unwrap()
                    .as_str()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            ops,
            [
                "create_dir_all",
                "write",
                "append",
                "read",
                "copy",
                "copy",
                "rename",
                "rename",
                "metadata",
                "read_dir",
                "write_stream",
                "read_stream",
                "remove",
                "remove_dir_all"
            ]
        );
        assert_eq!(load32(&s.file_events), 14);
    });
    let _ = std::fs::remove_dir_all(dir);
}

fn load32(a: &std::sync::atomic::AtomicU32) -> u32 {
    a.load(Ordering::Relaxed)
}

#[test]
fn events_are_capped_per_span_and_the_rest_counted() {
    let dir = temp_dir("cap");
    let h = Harness::new();
    let tracking = TrackingConfig {
        max_file_events: 3,
        ..TrackingConfig::default()
    };
    let cx = h.context("cap", tracking);
    rt().block_on(async {
        for i in 0..10 {
            cx.fs().write(dir.join(format!("f{i}")), b"x").await.unwrap();
        }
    });
    assert_eq!(load32(&cx.stats().file_events), 3);
    assert_eq!(load32(&cx.stats().file_events_dropped), 7);
    // Totals are complete even when events are not.
    assert_eq!(load(&cx.stats().bytes_written), 10);
    assert_eq!(cx.stats().files().len(), 10);
    let attrs = servicetask_tracking::span_attributes(&cx);
    assert_eq!(
        attr(&attrs, semconv::SERVICETASK_FILES_EVENTS_DROPPED),
        Some(&opentelemetry::Value::I64(7))
    );
    assert_eq!(
        attr(&attrs, semconv::SERVICETASK_FILES_COUNT),
        Some(&opentelemetry::Value::I64(10))
    );
    let span = h.end_span(&cx);
    assert_eq!(events(&span, semconv::event::FILE).len(), 3);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn files_switch_off_records_nothing_but_the_operation_still_works() {
    let dir = temp_dir("off");
    let h = Harness::new();
    let tracking = TrackingConfig {
        files: false,
        ..TrackingConfig::default()
    };
    let cx = h.context("off", tracking);
    rt().block_on(async {
        cx.fs().write(dir.join("a"), b"abc").await.unwrap();
        assert_eq!(cx.fs().read(dir.join("a")).await.unwrap(), b"abc");
    });
    assert_eq!(load(&cx.stats().bytes_read), 0);
    assert!(cx.stats().files().is_empty());
    assert!(events(&h.end_span(&cx), semconv::event::FILE).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

// ---- bad input ------------------------------------------------------------------------------

#[test]
fn nonexistent_path_is_not_found_naming_the_path() {
    let dir = temp_dir("missing");
    let h = Harness::new();
    let cx = h.context("missing", TrackingConfig::default());
    let missing = dir.join("nope.csv");
    let err = rt().block_on(cx.fs().read(&missing)).unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound);
    assert!(err.message().contains("nope.csv"), "{}", err.message());
    assert!(err.suggestion().unwrap().contains(&*missing.to_string_lossy()));
    assert_eq!(err.context().files, vec![missing.to_string_lossy().into_owned()]);
    let span = h.end_span(&cx);
    let ev = events(&span, semconv::event::FILE);
    assert_eq!(
        attr(&ev[0].attributes, semconv::ERROR_TYPE).unwrap().as_str(),
        "not_found"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn directory_where_a_file_is_expected_is_a_validation_error() {
    let dir = temp_dir("isdir");
    let h = Harness::new();
    let cx = h.context("isdir", TrackingConfig::default());
    let rt = rt();
    let err = rt.block_on(cx.fs().read(&dir)).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Validation, "{err:?}");
    assert!(err.suggestion().unwrap().contains("is a directory"));
    let err = rt.block_on(cx.fs().write(&dir, b"x")).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Validation, "{err:?}");
    // A file used as a directory.
    std::fs::write(dir.join("f"), b"x").unwrap();
    let err = rt.block_on(cx.fs().read(dir.join("f/inner"))).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Validation, "{err:?}");
    assert!(err.suggestion().unwrap().contains("not a directory"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_a_validation_error_and_is_not_followed_forever() {
    let dir = temp_dir("loop");
    std::os::unix::fs::symlink(dir.join("b"), dir.join("a")).unwrap();
    std::os::unix::fs::symlink(dir.join("a"), dir.join("b")).unwrap();
    let h = Harness::new();
    let cx = h.context("loop", TrackingConfig::default());
    let rt = rt();
    for err in [
        rt.block_on(cx.fs().read(dir.join("a"))).unwrap_err(),
        rt.block_on(cx.fs().metadata(dir.join("a"))).map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(err.class(), ErrorClass::Validation, "{err:?}");
        assert!(err.suggestion().unwrap().contains("symbolic link loop"));
    }
    // Listing the directory does not follow the links.
    assert_eq!(rt.block_on(cx.fs().read_dir(&dir)).unwrap().len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_work_and_are_recorded_escaped() {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = temp_dir("nonutf8");
    let name = std::ffi::OsStr::from_bytes(b"caf\xE9.txt");
    let path = dir.join(name);
    let h = Harness::new();
    let cx = h.context("nonutf8", TrackingConfig::default());
    rt().block_on(async {
        cx.fs().write(&path, b"bytes").await.unwrap();
        assert_eq!(cx.fs().read(&path).await.unwrap(), b"bytes");
    });
    let recorded = format!("{}/caf\\xE9.txt", dir.display());
    assert!(
        cx.stats().files().iter().all(|f| f.path == recorded),
        "{:?}",
        cx.stats().files()
    );
    let span = h.end_span(&cx);
    assert_eq!(
        attr(&events(&span, semconv::event::FILE)[0].attributes, semconv::FILE_PATH)
            .unwrap()
            .as_str(),
        recorded
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn text_that_is_not_utf8_is_a_validation_error_with_a_way_out() {
    let dir = temp_dir("badtext");
    std::fs::write(dir.join("b"), [0xFFu8, 0xFE, 0x00]).unwrap();
    let cx = Harness::new().context("badtext", TrackingConfig::default());
    let err = rt().block_on(cx.fs().read_to_string(dir.join("b"))).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Validation);
    assert!(err.suggestion().unwrap().contains("cx.fs().read"));
    // The bytes were read, and are recorded as read.
    assert_eq!(load(&cx.stats().bytes_read), 3);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Root bypasses mode bits, so as root the test uses the immutable attribute, which root
/// cannot write through either (EPERM); as another user it uses mode 0o000 (EACCES).
#[cfg(target_os = "linux")]
#[test]
fn permission_denied_is_classified_naming_the_path() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("perm");
    let path = dir.join("locked");
    std::fs::write(&path, b"x").unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let immutable = if root {
        let set = set_immutable(&path, true);
        assert!(
            set.is_ok(),
            "as root the test needs the immutable attribute (ext4, xfs, btrfs support it) to make a \
             write that root cannot bypass; setting it failed: {set:?}"
        );
        true
    } else {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        false
    };
    let h = Harness::new();
    let cx = h.context("perm", TrackingConfig::default());
    let err = rt().block_on(cx.fs().write(&path, b"y")).unwrap_err();
    if immutable {
        set_immutable(&path, false).unwrap();
    }
    assert_eq!(err.class(), ErrorClass::PermissionDenied, "{err:?}");
    assert!(err.suggestion().unwrap().contains(&*path.to_string_lossy()));
    let span = h.end_span(&cx);
    let ev = events(&span, semconv::event::FILE);
    assert_eq!(
        attr(&ev[0].attributes, semconv::ERROR_TYPE).unwrap().as_str(),
        "permission_denied"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Sets or clears `FS_IMMUTABLE_FL` with the `FS_IOC_SETFLAGS` ioctl (what `chattr +i` does).
#[cfg(target_os = "linux")]
fn set_immutable(path: &std::path::Path, on: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
    const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
    const FS_IMMUTABLE_FL: libc::c_int = 0x10;
    let f = std::fs::File::open(path)?;
    let mut flags: libc::c_int = 0;
    // SAFETY: valid fd and out-pointer for these ioctls.
    if unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_GETFLAGS, &mut flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    flags = if on {
        flags | FS_IMMUTABLE_FL
    } else {
        flags & !FS_IMMUTABLE_FL
    };
    // SAFETY: as above.
    if unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_SETFLAGS, &flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `/proc` files say they are empty but are not: the size at open and the bytes really read
/// both reach the record.
#[cfg(target_os = "linux")]
#[test]
fn a_file_whose_size_differs_from_what_is_read_is_recorded_faithfully() {
    let h = Harness::new();
    let cx = h.context("proc", TrackingConfig::default());
    let data = rt().block_on(cx.fs().read("/proc/self/status")).unwrap();
    assert!(!data.is_empty());
    let span = h.end_span(&cx);
    let ev = &events(&span, semconv::event::FILE)[0];
    assert_eq!(
        attr(&ev.attributes, semconv::FILE_SIZE),
        Some(&opentelemetry::Value::I64(0))
    );
    assert_eq!(
        attr(&ev.attributes, semconv::SERVICETASK_FILE_BYTES),
        Some(&opentelemetry::Value::I64(data.len() as i64))
    );
}

#[test]
fn a_file_that_grows_and_shrinks_while_streamed_counts_the_bytes_really_read() {
    let dir = temp_dir("grow");
    let path = dir.join("log");
    std::fs::write(&path, vec![b'a'; 1000]).unwrap();
    let cx = Harness::new().context("grow", TrackingConfig::default());
    let total = rt().block_on(async {
        let mut f = cx.fs().open(&path).await.unwrap();
        let mut first = vec![0u8; 400];
        f.read_exact(&mut first).await.unwrap();
        // Another writer truncates the file and writes 250 new bytes.
        std::fs::write(&path, vec![b'b'; 250]).unwrap();
        let mut rest = Vec::new();
        f.read_to_end(&mut rest).await.unwrap();
        let n = f.bytes_read();
        assert_eq!(n, 400 + rest.len() as u64);
        n
    });
    assert_eq!(load(&cx.stats().bytes_read), total);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Tracking touches only the paths it is given: removing a directory that holds a symlink to
/// another directory removes the link, not what it points to.
#[cfg(unix)]
#[test]
fn remove_dir_all_does_not_follow_symlinks_out_of_the_tree() {
    let dir = temp_dir("nofollow");
    let outside = dir.join("outside");
    let tree = dir.join("tree");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(outside.join("keep.txt"), b"precious").unwrap();
    std::os::unix::fs::symlink(&outside, tree.join("link")).unwrap();
    let cx = Harness::new().context("nofollow", TrackingConfig::default());
    rt().block_on(cx.fs().remove_dir_all(&tree)).unwrap();
    assert!(!tree.exists());
    assert_eq!(std::fs::read(outside.join("keep.txt")).unwrap(), b"precious");
    // Only the path asked for is in the record.
    let files = cx.stats().files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, tree.to_string_lossy());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Eight executions read files of different sizes at once on a 2-worker runtime: each reports
/// exactly its own bytes.
#[test]
fn concurrent_executions_each_report_their_own_bytes() {
    let dir = temp_dir("concurrent");
    let h = Harness::new();
    let layer = Arc::new(TrackingLayer::new(&TrackingConfig::default()));
    let mut cxs = Vec::new();
    rt().block_on(async {
        let mut handles = Vec::new();
        for i in 0..8usize {
            let path = dir.join(format!("f{i}"));
            std::fs::write(&path, vec![i as u8; (i + 1) * 100 * 1024]).unwrap();
            let cx = h.context(&format!("reader{i}"), TrackingConfig::default());
            cxs.push(cx.clone());
            let layer = layer.clone();
            handles.push(tokio::spawn(async move {
                run(&layer, &cx, move |cx| {
                    let path = path.clone();
                    async move {
                        for _ in 0..3 {
                            cx.fs().read(&path).await?;
                            tokio::task::yield_now().await;
                        }
                        Ok(())
                    }
                })
                .await
            }));
        }
        for handle in handles {
            handle.await.unwrap().unwrap();
        }
    });
    for (i, cx) in cxs.iter().enumerate() {
        assert_eq!(
            load(&cx.stats().bytes_read),
            3 * (i as u64 + 1) * 100 * 1024,
            "reader{i}"
        );
        assert_eq!(cx.stats().files().len(), 1);
        assert_eq!(cx.stats().files()[0].ops, 3);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn copy_into_a_missing_directory_blames_the_target() {
    let dir = temp_dir("copy-missing");
    std::fs::write(dir.join("src"), b"x").unwrap();
    let cx = Harness::new().context("copy", TrackingConfig::default());
    let target = dir.join("no/such/dir/dst");
    let err = rt().block_on(cx.fs().copy(dir.join("src"), &target)).unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotFound);
    assert!(
        err.suggestion().unwrap().contains(&*target.to_string_lossy()),
        "{err:?}"
    );
    let err = rt()
        .block_on(cx.fs().rename(dir.join("gone"), dir.join("dst")))
        .unwrap_err();
    assert!(err.suggestion().unwrap().contains("gone"), "{err:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn per_file_totals_aggregate_by_path_and_kind_in_first_seen_order() {
    let cx = Harness::new().context("totals", TrackingConfig::default());
    let s = cx.stats();
    for i in 0..5_000u64 {
        s.add_file(&format!("/f{}", i % 2_500), FileAccessKind::Read, 1, None);
    }
    s.add_file("/f0", FileAccessKind::Write, 7, Some(7));
    s.add_file("/f0", FileAccessKind::Read, 1, Some(3));
    let files = s.files();
    assert_eq!(files.len(), 2_501);
    assert_eq!(files[0].path, "/f0");
    assert_eq!(
        (files[0].kind, files[0].ops, files[0].bytes, files[0].file_size),
        (FileAccessKind::Read, 3, 3, Some(3))
    );
    assert_eq!(files[1].path, "/f1");
    assert_eq!((files[2_500].kind, files[2_500].bytes), (FileAccessKind::Write, 7));
    assert_eq!(load(&s.bytes_read), 5_001);
    assert_eq!(load(&s.bytes_written), 7);
}

/// Inside `cx.step`, a file event lands on the step's span (it nests); outside, on the task's.
#[test]
fn file_events_land_on_the_innermost_span_of_the_execution() {
    use opentelemetry::trace::FutureExt as _;
    let dir = temp_dir("nesting");
    std::fs::write(dir.join("a"), b"a").unwrap();
    let h = Harness::new();
    let cx = h.context("nesting", TrackingConfig::default());
    let d = dir.clone();
    let c = cx.clone();
    rt().block_on(
        async move {
            c.fs().read(d.join("a")).await.unwrap();
            c.step("parse", async { c.fs().read(d.join("a")).await.map(|_| ()) })
                .await
                .unwrap();
        }
        .with_context(cx.otel_context().clone()),
    );
    let spans = h.end(&cx);
    let task = spans.iter().find(|s| s.name == "nesting").unwrap();
    let step = spans.iter().find(|s| s.name == "parse").unwrap();
    assert_eq!(step.parent_span_id, task.span_context.span_id());
    assert_eq!(events(task, semconv::event::FILE).len(), 1);
    assert_eq!(events(step, semconv::event::FILE).len(), 1);
    assert_eq!(load32(&cx.stats().file_events), 2, "the cap counts per execution");
    std::fs::remove_dir_all(dir).unwrap();
}
