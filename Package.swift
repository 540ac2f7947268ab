// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "hfshare",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "hfshare", targets: ["hfshare"]),
        .library(name: "HFShareCore", targets: ["HFShareCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // libacl: the only ACL library we use (never parse getfacl output).
        .systemLibrary(
            name: "CACL",
            pkgConfig: "libacl",
            providers: [.apt(["libacl1-dev"])]
        ),
        // What Glibc does not import: statx, getdents64, openat2, statfs magic, O_PATH & co.
        .target(name: "CHFShare"),
        .target(
            name: "HFShareCore",
            dependencies: ["CACL", "CHFShare", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "hfshare",
            dependencies: [
                "HFShareCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "HFShareCoreTests",
            dependencies: ["HFShareCore"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
