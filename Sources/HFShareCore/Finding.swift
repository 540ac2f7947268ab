/// Every way an entry can break the policy in docs/POLICY.md. The raw value is the kind's name everywhere:
/// in text output, JSON, Prometheus labels and the man page.
public enum FindingKind: String, CaseIterable, Codable, Sendable, Comparable {
    case dirWrongGroup = "dir-wrong-group"
    case dirNoSetgid = "dir-no-setgid"
    case dirSticky = "dir-sticky"
    case dirWorldWritable = "dir-world-writable"
    case dirOwnerPerms = "dir-owner-perms"
    case dirGroupPerms = "dir-group-perms"
    case dirACLMask = "dir-acl-mask"
    case dirNoDefaultACL = "dir-no-default-acl"
    case dirDefaultACLBad = "dir-default-acl-bad"
    case fileWrongGroup = "file-wrong-group"
    case fileGroupPerms = "file-group-perms"
    case fileACLMask = "file-acl-mask"
    case lockNotGroupWritable = "lock-not-group-writable"
    /// The ACL singles out a member (the owner's `u::`, or a named-user entry) and denies what the group gets.
    case aclDeniesMember = "acl-denies-member"
    /// The default ACL would deny a member (the creator, or a named user) on what members create next.
    case defaultACLDeniesMember = "default-acl-denies-member"
    case fileWorldWritable = "file-world-writable"
    case fileSetid = "file-setid"
    case fileHardlinkOutside = "file-hardlink-outside"
    case tokenReadable = "token-readable"
    /// Code in ROOT/modules (trust_remote_code) that a member other than its owner can write.
    case sharedCodeWritable = "shared-code-writable"
    // Curated caches (issue #17, CuratedPolicy.swift): reader groups and restricted repos.
    /// A reader group cannot read (r-x dirs, r-- files) an entry, or what writers will create in it.
    case readerCannotRead = "reader-cannot-read"
    /// A reader group can write an entry, or what writers will create in it.
    case readerCanWrite = "reader-can-write"
    /// Somebody outside the licensed group can read an entry of a restricted repo.
    case restrictedReadable = "restricted-readable"
    /// An entry of a restricted repo owned by a user outside the licensed group (only chown fixes it).
    case restrictedOwnerUnlicensed = "restricted-owner-unlicensed"
    case symlinkEscapes = "symlink-escapes"
    case symlinkDangling = "symlink-dangling"
    case ownerUnknownUID = "owner-unknown-uid"
    case ownerNotMember = "owner-not-member"
    case specialFile = "special-file"
    case lockStale = "lock-stale"
    case incompleteOld = "incomplete-old"
    case parentNotTraversable = "parent-not-traversable"
    /// The group's GID on this node differs from the one `init` recorded (multi-node clusters).
    case groupGIDMismatch = "group-gid-mismatch"
    /// ROOT/.hfshare/config.json disagrees with root's own record in /etc/hfshare/roots (root's wins).
    case stateMismatch = "state-mismatch"
    /// Not a SPEC rule but an honest result: a directory the walk could not read; the walk goes on.
    case unreadable = "unreadable"
    // Repo integrity (RepoIntegrity.swift): will the client load every revision offline?
    /// A ref that is not exactly 40 lowercase hex characters (e.g. a trailing newline).
    case refMalformed = "ref-malformed"
    /// A ref whose commit has no snapshot directory.
    case refDangling = "ref-dangling"
    /// A snapshot symlink whose blob is missing.
    case snapshotLinkBroken = "snapshot-link-broken"
    /// A blob no snapshot of its repo links to, with no download in progress.
    case blobOrphan = "blob-orphan"

    /// Whether `repair` restores it; the others are reported with the command an admin would run.
    public var fixable: Bool {
        switch self {
        case .tokenReadable, .sharedCodeWritable, .restrictedOwnerUnlicensed, .symlinkEscapes, .symlinkDangling, .ownerUnknownUID, .ownerNotMember,
             .specialFile, .parentNotTraversable, .groupGIDMismatch, .stateMismatch, .unreadable,
             .refDangling, .snapshotLinkBroken, .blobOrphan:
            return false
        default:
            return true
        }
    }

    public var summary: String {
        switch self {
        case .dirWrongGroup: return "directory not owned by the shared group"
        case .dirNoSetgid: return "directory lacks the setgid bit (new files would get the creator's group)"
        case .dirSticky: return "directory has the sticky bit (members could not delete each other's files)"
        case .dirWorldWritable: return "directory is writable by everyone"
        case .dirOwnerPerms: return "directory owner lacks rwx"
        case .dirGroupPerms: return "the shared group lacks rwx on the directory"
        case .dirACLMask: return "the ACL mask takes rwx away from the shared group"
        case .dirNoDefaultACL: return "no default ACL giving the shared group rwx (new files would follow each user's umask)"
        case .dirDefaultACLBad: return "default ACL mask lacks rwx or default other has write"
        case .fileWrongGroup: return "file not owned by the shared group"
        case .fileGroupPerms: return "the shared group cannot read and write the file"
        case .fileACLMask: return "the ACL mask takes rw away from the shared group"
        case .aclDeniesMember: return "the ACL denies a member what the group gets (its owner entry or a named-user entry)"
        case .defaultACLDeniesMember: return "the default ACL would deny a member on what other members create here"
        case .lockNotGroupWritable: return "lock file the shared group cannot write (downloads by others fail with PermissionError)"
        case .fileWorldWritable: return "file is writable by everyone"
        case .fileSetid: return "file has the setuid or setgid bit"
        case .fileHardlinkOutside: return "file is a hard link to a name outside the cache (changing it would change that file)"
        case .tokenReadable: return "access token readable by group or others"
        case .sharedCodeWritable: return "remote code (trust_remote_code) another member can write: it runs in every process that loads the model, as that user"
        case .readerCannotRead: return "a reader group cannot read it (directories need r-x, files r--), or what writers create here next"
        case .readerCanWrite: return "a reader group can write it (readers must write nothing in the cache)"
        case .restrictedReadable: return "someone outside the licensed group can read this restricted repo entry (gated model)"
        case .restrictedOwnerUnlicensed: return "restricted repo entry owned by a user outside the licensed group (the owner keeps access whatever the ACL says)"
        case .symlinkEscapes: return "symlink points outside the cache root"
        case .symlinkDangling: return "symlink target inside the cache does not exist"
        case .ownerUnknownUID: return "owner uid has no passwd entry"
        case .ownerNotMember: return "owner is not a member of the shared group"
        case .specialFile: return "FIFO, socket or device file in the cache"
        case .lockStale: return "old lock file that nobody holds"
        case .incompleteOld: return "old unfinished download (*.incomplete)"
        case .parentNotTraversable: return "members cannot search this ancestor of the cache root"
        case .groupGIDMismatch: return "the shared group has another GID on this node than init recorded (members here are not members on the filesystem)"
        case .stateMismatch: return "the config in ROOT/.hfshare disagrees with root's record in /etc/hfshare/roots (root's record is used)"
        case .unreadable: return "could not be read; its subtree was not checked"
        case .refMalformed: return "ref is not exactly a 40-hex commit id (the client reads it verbatim, so offline loads of that revision fail)"
        case .refDangling: return "ref points at a commit whose snapshot was never downloaded (offline loads of that revision fail)"
        case .snapshotLinkBroken: return "snapshot file links to a missing blob (that revision fails offline; the client re-downloads online)"
        case .blobOrphan: return "blob no snapshot links to (space only; hf cache prune or rm frees it)"
        }
    }

    public static func < (a: FindingKind, b: FindingKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One violation at one path. `fix` is the one command that would fix it (for report-only kinds, what
/// the admin could run).
public struct Finding: Sendable, Equatable {
    public var kind: FindingKind
    public var path: String
    public var detail: String
    public var fix: String

    public init(kind: FindingKind, path: String, detail: String = "", fix: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
        self.fix = fix
    }

    public var fixable: Bool { kind.fixable }

    public var message: String {
        var m = kind.summary
        if !detail.isEmpty { m += " (\(detail))" }
        return m + "; fix: " + fix
    }
}
