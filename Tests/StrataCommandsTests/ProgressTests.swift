@testable import StrataCommands
import StrataTrain
import Testing

@Suite("Training progress")
struct ProgressTests {
    @Test func aTerminalGetsARedrawnBarWithLossSpeedAndETA() {
        let progress = Progress(terminal: true, epochs: 3, live: false)
        progress.handle(.started(trainImages: 640, validationImages: 64, stepsPerEpoch: 20, resumedAt: nil))
        progress.handle(.step(epoch: 0, step: 1, of: 20, loss: 2.25, imagesPerSecond: 1500))
        progress.handle(.step(epoch: 0, step: 20, of: 20, loss: 1.5, imagesPerSecond: 1600))
        progress.handle(.epoch(.init(epoch: 1, step: 20, learningRate: 0.01, loss: 1.5, trainError: 0.25, validationTop1: 0.2,
                                     validationTop5: 0.01, imagesPerSecond: 1600, dataWaitFraction: 0.003)))
        let text = progress.collected
        #expect(text.hasPrefix("training on 640 images (20 steps per epoch), validating on 64\n"))
        #expect(text.contains("\r\u{1B}[Kepoch 1/3 "))
        #expect(text.contains("20/20 loss 1.5000 1600 img/s ETA 0:00"))
        #expect(text.contains("█"))
        #expect(text.contains("epoch 1: loss 1.5000, train error 25.00%, val top-1 20.00% top-5 1.00%, 1600 img/s, data wait 0.3%\n"))
    }

    @Test func elsewhereItWritesPlainLines() {
        let progress = Progress(terminal: false, epochs: 1, live: false)
        progress.handle(.started(trainImages: 64, validationImages: 0, stepsPerEpoch: 8, resumedAt: (0, 4)))
        progress.handle(.step(epoch: 0, step: 5, of: 8, loss: 0.5, imagesPerSecond: 100))
        progress.handle(.step(epoch: 0, step: 8, of: 8, loss: 0.25, imagesPerSecond: 100))
        progress.handle(.warning("skipped unreadable image a.png"))
        let lines = progress.collected.split(separator: "\n")
        #expect(lines[0] == "training on 64 images (8 steps per epoch), validating on 0; resumed at epoch 1, step 4")
        #expect(lines[1].hasPrefix("epoch 1/1 step 5/8 loss 0.5000 100 img/s eta"))
        #expect(lines[2].hasPrefix("epoch 1/1 step 8/8 loss 0.2500"))
        #expect(lines[3] == "warning: skipped unreadable image a.png")
        #expect(!progress.collected.contains("\r"))
    }
}
