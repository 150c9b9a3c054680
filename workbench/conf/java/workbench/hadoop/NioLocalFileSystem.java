package workbench.hadoop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system (file:// paths) without a process per file.
 *
 * <p>Without Hadoop's native library, which no PyPI or Debian package ships, {@link
 * RawLocalFileSystem#setPermission} runs {@code chmod} in a child process, and Hadoop sets the
 * permission of every directory it makes and every file it creates, checksum files included: a
 * build of the demo warehouse started 5,373 such processes (a flight recording, 2026-12-05).
 * Here the permission is set through java.nio in the JVM itself, and no {@code .crc} checksum
 * files are written beside the Parquet files (Parquet checks its own pages; DuckDB, pyarrow and
 * Trino never read them). It stays a {@link LocalFileSystem}, the type {@code
 * FileSystem.getLocal} returns, so code that asks for the local file system by type still works.
 *
 * <p>Compiled at set-up by workbench/local_fs.py and used by local sessions (workbench/spark.py).
 */
public class NioLocalFileSystem extends LocalFileSystem {

    public NioLocalFileSystem() {
        super(new Raw());
    }

    @Override
    public void initialize(java.net.URI name, Configuration conf) throws IOException {
        super.initialize(name, conf);
        setWriteChecksum(false);
        setVerifyChecksum(false);
    }

    /** The raw local file system with permissions set through java.nio. */
    public static class Raw extends RawLocalFileSystem {
        // FsPermission's bits from the lowest: others' execute, write, read, then group's, owner's
        private static final PosixFilePermission[] BITS = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_READ,
        };

        @Override
        public void setPermission(Path path, FsPermission permission) throws IOException {
            int mode = permission.toShort();
            Set<PosixFilePermission> posix = EnumSet.noneOf(PosixFilePermission.class);
            for (int bit = 0; bit < BITS.length; bit++) {
                if ((mode & (1 << bit)) != 0) {
                    posix.add(BITS[bit]);
                }
            }
            Files.setPosixFilePermissions(pathToFile(path).toPath(), posix);
        }
    }
}
