import StrataDiagnostics

/// The graph IR: the network input and the layers in topological (spec) order, each reading
/// earlier values. Every node keeps the YAML locations of its layer and attributes, so a problem
/// found in any later stage still points at the right line.
public struct Graph: Sendable {
    public var name: String
    /// The spec file the user named.
    public var file: String
    /// One image of the input, (C, H, W); the batch is symbolic.
    public var input: TensorShape
    public var inputLocation: SourceLocation
    public var nodes: [Node]

    public init(name: String, file: String, input: TensorShape, inputLocation: SourceLocation, nodes: [Node]) {
        self.name = name
        self.file = file
        self.input = input
        self.inputLocation = inputLocation
        self.nodes = nodes
    }

    /// The shape of a value (nil for a node before shape inference).
    public func shape(of value: ValueID) -> TensorShape? {
        switch value {
        case .input: input
        case .node(let i): nodes[i].shape
        }
    }

    public func name(of value: ValueID) -> String {
        switch value {
        case .input: "input"
        case .node(let i): nodes[i].name
        }
    }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Whether shape inference has run (every node has a shape).
    public var hasShapes: Bool { nodes.allSatisfy { $0.shape != nil } }
}

/// A value in the graph: the network input or a node's output.
public enum ValueID: Hashable, Sendable, Comparable {
    case input
    case node(Int)
}

/// One layer of the graph.
public struct Node: Sendable {
    public var name: String
    public var layer: Layer
    public var inputs: [ValueID]
    /// Output shape per image; nil until shape inference.
    public var shape: TensorShape?
    /// Where the layer's mapping starts.
    public var location: SourceLocation
    /// Where each attribute (and `op`, `from`) was written.
    public var attributeLocations: [String: SourceLocation]

    public init(name: String, layer: Layer, inputs: [ValueID], shape: TensorShape? = nil,
                location: SourceLocation, attributeLocations: [String: SourceLocation] = [:]) {
        self.name = name
        self.layer = layer
        self.inputs = inputs
        self.shape = shape
        self.location = location
        self.attributeLocations = attributeLocations
    }

    public var op: String { layer.op }
}

extension Graph {
    /// The width of the last layer: the classes of a classifier.
    public var classes: Int { nodes.last?.shape?.elementCount ?? 0 }
}
