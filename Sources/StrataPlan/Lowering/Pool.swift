import StrataIR

extension PoolWindow {
    /// The constants of a pooling step of this window.
    func geometry(_ c: StepContext) -> KernelConstants {
        let x = c.inputShapes[0], y = c.outputShape
        return .pool(PoolGeometry(channels: x.channels, height: x.height, width: x.width, outHeight: y.height, outWidth: y.width, window: self))
    }
}
