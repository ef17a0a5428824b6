// swift-tools-version:6.0
// Strata: a declarative network compiler. One target per pipeline stage; dependencies flow one way:
// StrataDiagnostics ← StrataSpec (the only target that imports Yams) ← StrataIR ← StrataPlan ← the backends
// (StrataCPU, StrataOpenCL) and StrataTrain ← StrataAnalysis ← StrataCommands ← strata. docs/architecture.md draws it.
import PackageDescription

let package = Package(
    name: "Strata",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "strata", targets: ["strata"]),
        .library(name: "StrataIR", targets: ["StrataIR"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        // System libraries, found through pkg-config. tools/bootstrap installs the Debian packages.
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "COpenCL", pkgConfig: "OpenCL",
            providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev", "fonts-dejavu-core"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),

        // A few lines of C the CPU backend needs (the x86 denormal mode).
        // -fno-math-errno: sqrtf need not set errno, so its loops vectorise.
        .target(name: "CStrataSupport", cSettings: [.unsafeFlags(["-fno-math-errno", "-O3"])]),

        // Stage 0: source locations, diagnostics and their rendering. No dependencies.
        .target(name: "StrataDiagnostics", exclude: ["README.md"]),
        // Stage 1: YAML text → spec tree with source locations → resolved network spec (variants expanded).
        .target(name: "StrataSpec", dependencies: ["StrataDiagnostics", "Yams"], exclude: ["README.md"]),
        // Stage 2: spec → graph IR (typed layers), shape inference, verifier. No I/O.
        .target(name: "StrataIR", dependencies: ["StrataDiagnostics", "StrataSpec"], exclude: ["README.md"]),
        // Stage 3: graph → kernel steps (each layer's lowering; forward, backward, optimizer: DerivedGraph) → execution plan
        // (buffers placed by liveness), for every backend.
        .target(name: "StrataPlan", dependencies: ["StrataDiagnostics", "StrataIR"], exclude: ["README.md"]),
        // Stage 4a: the CPU backend: Strata's own GEMM per instruction set (or OpenBLAS) and threaded kernels, float32 and float64.
        .target(
            name: "StrataCPU", dependencies: ["StrataIR", "StrataPlan", "COpenBLAS", "CStrataSupport"], exclude: ["README.md"],
            // Swift 5 mode: the kernels share raw buffer pointers across threads by design (each thread
            // writes a disjoint range), which Swift 6's Sendable checking cannot express.
            swiftSettings: [.swiftLanguageMode(.v5), .unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        // Stage 4b: the OpenCL backend: devices, the program cache, GEMM tile tuning, kernels from kernels/*.cl.
        .target(name: "StrataOpenCL", dependencies: ["COpenCL", "StrataIR", "StrataPlan", "StrataFormats"], exclude: ["README.md"],
                plugins: ["EmbedKernels"]),
        // kernels/*.cl into the binary at build time (EmbeddedKernels.swift in the build folder).
        .plugin(name: "EmbedKernels", capability: .buildTool(), path: "Sources/EmbedKernels"),
        // File formats: safetensors, .npy, PNG/JPEG, the one atomic writer, CSV and Markdown cells.
        .target(name: "StrataFormats", dependencies: ["CPNG", "CTurboJPEG"], exclude: ["README.md"]),
        // The job's ranks under mpirun (MPI_COMM_WORLD), or one rank without it: collectives for
        // data-parallel training and the commands that spread their work.
        .target(name: "StrataMPI", dependencies: ["CMPI"], exclude: ["README.md"]),
        // Stage 5: training: data sets, the input rule, preprocessing and augmentation, the training loop, checkpoints,
        // evaluation, experiments.
        .target(
            name: "StrataTrain",
            dependencies: ["StrataSpec", "StrataIR", "StrataPlan", "StrataFormats", "StrataMPI", "CZlib"],
            exclude: ["README.md"]),
        // Stage 6: the ZF paper's analyses (sweeps, projections, occlusion, correspondence, probes, the report) on any backend.
        // Figures: PNG, PDF and SVG with real text (Cairo), colour maps and bars, plots, legends. The only target that imports Cairo.
        .target(name: "StrataFigures", dependencies: ["CCairo", "StrataFormats"], exclude: ["README.md"]),
        .target(name: "StrataAnalysis", dependencies: ["StrataFigures", "StrataIR", "StrataSpec", "StrataDiagnostics", "StrataPlan", "StrataFormats", "StrataTrain", "StrataMPI", "COpenBLAS"], exclude: ["README.md"]),
        // The 19 commands, as a library so tests can drive them in-process: parse flags, call the library, print.
        .target(
            name: "StrataCommands",
            dependencies: [
                "StrataDiagnostics", "StrataSpec", "StrataIR", "StrataPlan", "StrataCPU", "StrataFormats", "StrataTrain", "StrataAnalysis", "StrataFigures", "StrataOpenCL", "StrataMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"]),
        .executableTarget(name: "strata", dependencies: ["StrataCommands"]),

        .testTarget(name: "StrataDiagnosticsTests", dependencies: ["StrataDiagnostics"]),
        .testTarget(name: "StrataSpecTests", dependencies: ["StrataSpec"]),
        .testTarget(name: "StrataIRTests", dependencies: ["StrataIR", "StrataSpec"]),
        .testTarget(
            name: "StrataCommandsTests", dependencies: ["StrataCommands", "StrataCPU", "StrataPlan", "StrataOpenCL", "StrataFormats", "StrataTrain", "StrataIR", "StrataSpec", "strata"],
            exclude: ["Golden"]),  // golden outputs, read from the source tree
        .testTarget(name: "StrataPlanTests", dependencies: ["StrataPlan", "StrataIR", "StrataSpec", "StrataDiagnostics"]),
        .testTarget(name: "StrataCPUTests", dependencies: ["StrataCPU", "StrataPlan", "StrataIR", "StrataSpec", "CStrataSupport", "COpenBLAS"]),
        // The fuzz tests reach the readers of every module (sweep files, reports, the OpenCL caches).
        .testTarget(name: "StrataTrainTests", dependencies: ["StrataTrain", "StrataCPU", "StrataFormats", "StrataIR", "StrataPlan", "StrataSpec",
                                                            "StrataCommands", "StrataAnalysis", "StrataOpenCL"]),
        .testTarget(name: "StrataFiguresTests", dependencies: ["StrataFigures", "StrataFormats"]),
        .testTarget(name: "StrataFormatsTests", dependencies: ["StrataFormats"], exclude: ["Fixtures"]),
        .testTarget(name: "StrataAnalysisTests", dependencies: ["StrataAnalysis", "StrataFigures", "StrataCPU", "StrataIR", "StrataSpec", "StrataPlan", "StrataFormats", "StrataTrain"]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["COpenBLAS", "COpenCL"]),
        .testTarget(name: "StrataOpenCLTests", dependencies: ["StrataOpenCL", "StrataCPU", "StrataIR", "StrataPlan", "StrataSpec"]),
    ],
    swiftLanguageModes: [.v6]
)
