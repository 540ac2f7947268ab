#define _GNU_SOURCE
#include "chfshare.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>

const int HF_O_PATH = O_PATH;
const int HF_O_NOATIME = O_NOATIME;
const int HF_O_NOFOLLOW = O_NOFOLLOW;
const int HF_O_DIRECTORY = O_DIRECTORY;
const int HF_O_CLOEXEC = O_CLOEXEC;
const int HF_O_NONBLOCK = O_NONBLOCK;
const int HF_O_TMPFILE = O_TMPFILE;
const int HF_AT_EMPTY_PATH = AT_EMPTY_PATH;
const int HF_AT_SYMLINK_NOFOLLOW = AT_SYMLINK_NOFOLLOW;
const int HF_AT_REMOVEDIR = AT_REMOVEDIR;

int hf_statx(int dirfd, const char *name, int flags, struct hf_stat *out) {
    struct statx sx;
    unsigned mask = STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_NLINK | STATX_INO |
                    STATX_SIZE | STATX_MTIME | STATX_CTIME;
    if (statx(dirfd, name, flags | AT_STATX_SYNC_AS_STAT, mask, &sx) != 0) return -1;
    out->mode = sx.stx_mode;
    out->uid = sx.stx_uid;
    out->gid = sx.stx_gid;
    out->nlink = sx.stx_nlink;
    out->ino = sx.stx_ino;
    out->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    out->size = sx.stx_size;
    out->mtime_sec = sx.stx_mtime.tv_sec;
    out->mtime_nsec = sx.stx_mtime.tv_nsec;
    out->ctime_sec = sx.stx_ctime.tv_sec;
    out->ctime_nsec = sx.stx_ctime.tv_nsec;
#ifdef STATX_MNT_ID
    out->mnt_id = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
#else
    out->mnt_id = 0;
#endif
    return 0;
}

long hf_getdents64(int fd, void *buf, size_t len) {
    return syscall(SYS_getdents64, fd, buf, len);
}

struct linux_dirent64_hf {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

int hf_dirent_next(const void *buf, long len, long *offset, const char **name, unsigned char *type, uint64_t *ino) {
    if (*offset >= len) return 0;
    const struct linux_dirent64_hf *d = (const struct linux_dirent64_hf *)((const char *)buf + *offset);
    *name = d->d_name;
    *type = d->d_type;
    *ino = d->d_ino;
    *offset += d->d_reclen;
    return 1;
}

int hf_openat_beneath(int dirfd, const char *path, int flags, unsigned mode) {
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)flags;
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
    errno = ENOSYS;
    return -1;
#endif
}

long hf_fstatfs_type(int fd) {
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0) return -1;
    return (long)sf.f_type;
}

int hf_fchmod_path_fd(int fd, unsigned mode) {
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    return chmod(p, mode);
}

int hf_open(int dirfd, const char *name, int flags, unsigned mode) {
    return openat(dirfd, name, flags, mode);
}

long hf_copy_file_range(int in_fd, int out_fd, size_t len) {
    return (long)copy_file_range(in_fd, NULL, out_fd, NULL, len, 0);
}

int hf_set_mtime(int fd, int64_t sec, long nsec) {
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = sec;
    ts[1].tv_nsec = nsec;
    return futimens(fd, ts);
}

#ifndef __NR_getxattrat
#define __NR_getxattrat 464 /* same number on every architecture (unified syscall table) */
#endif
struct hf_xattr_args { uint64_t value; uint32_t size; uint32_t flags; };

long hf_getxattrat(int dirfd, const char *path, int at_flags, const char *name, void *buf, size_t size) {
    struct hf_xattr_args args = { (uint64_t)(uintptr_t)buf, (uint32_t)size, 0 };
    return syscall(__NR_getxattrat, dirfd, path, at_flags, name, &args, sizeof args);
}
